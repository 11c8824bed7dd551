"""The Python package's API, run in both modes (see conftest.py: `client` is embedded or
remote). Each test uses its own namespace."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

import gannet
from gannet import _encode

DOCS: list[dict[str, Any]] = [
    {"id": 1, "vector": [0.1, 0.9], "title": "gannets dive", "year": 2021, "tags": ["bird"]},
    {"id": 2, "vector": [0.8, 0.2], "title": "object storage", "year": 2023, "tags": ["infra"]},
    {"id": 3, "vector": [0.2, 0.8], "title": "seabirds", "year": 2024, "tags": ["bird", "sea"]},
    {"id": 4, "vector": [0.5, 0.5], "title": "misc", "year": 2020, "tags": []},
]


def seed(ns: gannet.Namespace) -> None:
    w = ns.write(upsert_rows=DOCS, distance_metric="cosine_distance")
    assert isinstance(w, gannet.WriteResult)
    assert w.rows_upserted == 4 and w.rows_affected == 4


def ids(res: gannet.QueryResult) -> list[Any]:
    return [r.id for r in res.rows]


def test_write_and_vector_query(ns: gannet.Namespace) -> None:
    seed(ns)
    res = ns.query(rank_by=["vector", "ANN", [0.15, 0.85]], top_k=2, include_attributes=["title"])
    assert isinstance(res, gannet.QueryResult)
    assert ids(res) == [1, 3]
    row = res.rows[0]
    assert isinstance(row, gannet.Row)
    assert row.title == "gannets dive" and row["title"] == "gannets dive"
    assert row.dist is not None and row.dist < (res.rows[1].dist or 0.0)
    assert row["$dist"] == row.dist and "year" not in row.attributes
    assert set(res.performance) >= {"server_total_ms", "rows_scanned"}
    exact = ns.query(rank_by=["vector", "kNN", [0.15, 0.85]], top_k=10)
    assert ids(exact) == [1, 3, 4, 2]
    everything = ns.query(rank_by=["id", "desc"], top_k=10, include_attributes=True)
    assert ids(everything) == [4, 3, 2, 1]
    assert everything.rows[1].tags == ["bird", "sea"]
    vec = everything.rows[0].vector
    assert isinstance(vec, np.ndarray) and vec.dtype == np.float32
    np.testing.assert_allclose(vec, [0.5, 0.5])
    with pytest.raises(AttributeError):
        _ = everything.rows[0].nope


def test_filters(ns: gannet.Namespace) -> None:
    seed(ns)

    def q(f: Any) -> list[Any]:
        return ids(ns.query(rank_by=["id", "asc"], top_k=10, filters=f))

    assert q(["year", "Gte", 2023]) == [2, 3]
    assert q(["tags", "Contains", "bird"]) == [1, 3]
    assert q(["And", [["tags", "Contains", "bird"], ["year", "Lt", 2024]]]) == [1]
    assert q(["Or", [["id", "Eq", 4], ["title", "Glob", "sea*"]]]) == [3, 4]
    assert q(["id", "In", [2, 4, 99]]) == [2, 4]
    assert q(["Not", ["year", "Gt", 2020]]) == [4]
    assert q(("title", "IGlob", "GANNET*")) == [1]
    res = ns.query(
        rank_by=["vector", "ANN", np.array([0.9, 0.1], dtype=np.float32)],
        top_k=1,
        filters=["tags", "Contains", "bird"],
    )
    assert ids(res) == [3]


def test_aggregations(ns: gannet.Namespace) -> None:
    seed(ns)
    ns.write(upsert_rows=[{"id": 5, "vector": [0.3, 0.3], "year": 2021}])
    res = ns.query(aggregate_by={"n": ["Count"]})
    assert res.aggregations == {"n": 5} and res.rows == []
    res = ns.query(aggregate_by={"n": ["Count"]}, filters=["year", "Lt", 2023])
    assert res.aggregations == {"n": 3}
    grouped = ns.query(aggregate_by={"n": ["Count"]}, group_by=["year"], top_k=10)
    groups = {g["year"]: g["n"] for g in grouped.aggregation_groups or []}
    assert groups == {2020: 1, 2021: 2, 2023: 1, 2024: 1}


def test_patch_delete_and_conditions(ns: gannet.Namespace) -> None:
    seed(ns)
    w = ns.write(patch_rows=[{"id": 2, "year": 2025, "title": None}], return_affected_ids=True)
    assert w.rows_patched == 1 and w.patched_ids == [2]
    row = ns.query(rank_by=["id", "asc"], filters=["id", "Eq", 2], include_attributes=True).rows[0]
    assert row.year == 2025 and "title" not in row.attributes

    w = ns.write(deletes=[1], delete_by_filter=["year", "Lt", 2021], return_affected_ids=True)
    assert w.rows_deleted == 2 and sorted(w.deleted_ids or []) == [1, 4]
    assert ids(ns.query(rank_by=["id", "asc"], top_k=10)) == [2, 3]

    # Conditional upsert: only replaces a row whose stored year is older.
    w = ns.write(
        upsert_rows=[
            {"id": 2, "vector": [0.8, 0.2], "year": 2020},
            {"id": 3, "vector": [0.2, 0.8], "year": 2030},
        ],
        upsert_condition=["year", "Lt", {"$ref_new": "year"}],
    )
    assert w.rows_upserted == 1
    years = {r.id: r.year for r in ns.query(rank_by=["id", "asc"], include_attributes=["year"])}
    assert years == {2: 2025, 3: 2030}

    cols = ns.write(patch_columns={"id": [2, 3], "year": [1, 2]})
    assert cols.rows_patched == 2


def test_namespaces_metadata_schema_delete_all(client: gannet.Client) -> None:
    prefix = "meta-" + uuid.uuid4().hex[:8] + "-"
    for i in range(3):
        client.namespace(f"{prefix}{i}").write(upsert_rows=[{"id": i, "n": i}])
    listed = [s.id for s in client.namespaces(prefix=prefix)]
    assert listed == [f"{prefix}0", f"{prefix}1", f"{prefix}2"]
    assert all(isinstance(s, gannet.NamespaceSummary) for s in client.namespaces(prefix=prefix))
    paged = [s.id for s in client.namespaces(prefix=prefix, page_size=2)]
    assert paged == listed

    ns = client.namespace(f"{prefix}1")
    md = ns.metadata()
    assert isinstance(md, gannet.NamespaceMetadata)
    assert md.approx_row_count == 1 and md.schema["n"]["type"] == "int"
    assert md.created_at is not None and md.created_at.tzinfo is not None
    assert md.index["status"] in ("up-to-date", "updating")
    schema = ns.schema()
    assert schema["n"]["type"] == "int" and schema["id"]["type"] == "uint"
    after = ns.update_schema({"label": {"type": "string"}})
    assert after["label"]["type"] == "string"

    ns.delete_all()
    assert not ns.exists()
    with pytest.raises(gannet.NotFound):
        ns.metadata()
    with pytest.raises(gannet.NotFound):
        ns.delete_all()
    assert [s.id for s in client.namespaces(prefix=prefix)] == [f"{prefix}0", f"{prefix}2"]


def test_errors_are_typed(client: gannet.Client, ns: gannet.Namespace) -> None:
    seed(ns)
    with pytest.raises(gannet.InvalidArgument) as e:
        ns.write(upsert_rows=[{"id": 9, "year": "soon"}])
    assert "year" in e.value.message and "expected int" in e.value.message
    assert isinstance(e.value, gannet.GannetError) and isinstance(e.value, ValueError)
    with pytest.raises(gannet.InvalidArgument, match="not supported yet"):
        ns.query(aggregate_by={"s": ["Sum", "year"]})
    with pytest.raises(gannet.InvalidArgument):
        ns.query(rank_by=["vector", "ANN", [1.0, 2.0, 3.0]], top_k=1)  # wrong dimension
    with pytest.raises(gannet.InvalidArgument):
        ns.query(rank_by=["nope", "sideways"])
    with pytest.raises(gannet.InvalidArgument):
        client.namespace("bad/name!").write(upsert_rows=[{"id": 1}])
    with pytest.raises(gannet.InvalidArgument, match="JSON compliant"):
        ns.write(upsert_rows=[{"id": 9, "score": float("nan")}])
    with pytest.raises(gannet.InvalidArgument, match="cannot encode"):
        ns.write(upsert_rows=[{"id": 9, "blob": object()}])
    # A query body the extension cannot write itself goes through the package's encoder,
    # with its errors.
    with pytest.raises(gannet.InvalidArgument, match="JSON compliant"):
        ns.query(rank_by=["id", "asc"], filters=["year", "Gt", float("inf")])
    with pytest.raises(gannet.InvalidArgument, match="cannot encode"):
        ns.query(rank_by=["id", "asc"], filters=["year", "Eq", object()])
    with pytest.raises(gannet.NotFound):
        client.namespace("never-" + uuid.uuid4().hex[:8]).metadata()
    # A rejected write changed nothing.
    assert ns.metadata().approx_row_count == 4


def test_numpy_vectors_and_scalars(ns: gannet.Namespace) -> None:
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((64, 16)).astype(np.float32)
    w = ns.write(
        upsert_columns={
            "id": np.arange(64, dtype=np.uint64),
            "vector": vecs,
            "bucket": np.arange(64) % 4,
        },
        distance_metric="euclidean_squared",
    )
    assert w.rows_upserted == 64
    res = ns.query(rank_by=["vector", "kNN", vecs[17]], top_k=3, include_attributes=["vector"])
    assert res.rows[0].id == 17 and res.rows[0].dist == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_array_equal(res.rows[0].vector, vecs[17])
    b64 = ns.query(
        rank_by=["vector", "kNN", vecs[5].astype(np.float64)],
        top_k=1,
        include_attributes=["vector"],
        vector_encoding="base64",
    )
    assert b64.rows[0].id == 5
    assert b64.rows[0].vector.dtype == np.float32
    np.testing.assert_array_equal(b64.rows[0].vector, vecs[5])
    # Rows with NumPy vectors and NumPy scalars.
    ns.write(upsert_rows=[{"id": np.uint64(100), "vector": vecs[0] * 2, "bucket": np.int64(9)}])
    top = ns.query(rank_by=["vector", "kNN", vecs[0] * 2], top_k=1, include_attributes=["bucket"])
    assert top.rows[0].id == 100 and top.rows[0].bucket == 9
    count = ns.query(aggregate_by={"n": ["Count"]}, filters=["bucket", "Eq", np.int64(2)])
    assert count.aggregations == {"n": 16}
    with pytest.raises(ValueError):
        ns.write(upsert_columns={"id": [1], "vector": np.zeros((1, 2, 2), dtype=np.float32)})


def test_import_leaves_numpy_until_a_vector_comes_back(tmp_path: Any) -> None:
    # `import gannet` does not import NumPy (a tenth of a second, and OpenBLAS's thread
    # pool); writes and queries of plain lists need none; the first result row with a
    # vector (a float32 array) imports it.
    script = f"""
import sys
import gannet
assert "numpy" not in sys.modules, "import gannet imported numpy"
db = gannet.open({str(tmp_path)!r})
ns = db.namespace("lazy")
ns.write(upsert_rows=[{{"id": 1, "vector": [0.1, 0.9], "n": 1}}],
         distance_metric="cosine_distance")
res = ns.query(rank_by=["vector", "ANN", [0.1, 0.9]], top_k=1, include_attributes=["n"])
assert res.rows[0].id == 1 and res.rows[0].n == 1
assert "numpy" not in sys.modules, "a query without vectors imported numpy"
res = ns.query(rank_by=["vector", "ANN", [0.1, 0.9]], top_k=1, include_attributes=["vector"])
assert "numpy" in sys.modules
assert res.rows[0].vector.dtype.name == "float32"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_uuid_datetime_and_strong_consistency(ns: gannet.Namespace) -> None:
    u = uuid.UUID("0f0e0d0c-0b0a-0908-0706-050403020100")
    when = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    ns.write(
        upsert_rows=[{"id": "a", "ref": u, "at": when}],
        schema={"ref": {"type": "uuid"}, "at": {"type": "datetime"}},
    )
    row = ns.query(rank_by=["id", "asc"], include_attributes=True, consistency="strong").rows[0]
    assert row.id == "a" and row.ref == str(u) and row.at.startswith("2024-03-01T12:00:00")
    ev = ns.query(rank_by=["id", "asc"], consistency={"level": "eventual"})
    assert ids(ev) in ([], ["a"])


def test_multi_query(ns: gannet.Namespace) -> None:
    seed(ns)
    a, b = ns.multi_query(
        queries=[
            {"rank_by": ["vector", "ANN", [0.1, 0.9]], "top_k": 1},
            {"aggregate_by": {"n": ["Count"]}, "filters": ["tags", "Contains", "bird"]},
        ]
    )
    assert ids(a) == [1] and b.aggregations == {"n": 2}


def test_full_text_and_fused_hybrid_query(ns: gannet.Namespace) -> None:
    ns.write(
        upsert_rows=[
            {"id": 1, "vector": [1.0, 0.0], "text": "walrus tusks are long teeth"},
            {"id": 2, "vector": [0.0, 1.0], "text": "seals and walruses swim in arctic seas"},
            {"id": 3, "vector": [0.9, 0.1], "text": "a recipe for pasta"},
        ],
        schema={"text": {"type": "string", "full_text_search": {"stemming": True}}},
        distance_metric="cosine_distance",
    )
    bm25 = ns.query(rank_by=["text", "BM25", "walrus"], top_k=10)
    assert sorted(ids(bm25)) == [1, 2] and all(r.dist > 0 for r in bm25.rows)
    assert ids(ns.query(rank_by=["id", "asc"], top_k=10,
                        filters=["text", "ContainsTokenSequence", "arctic sea"])) == [2]
    queries = [
        {"rank_by": ["vector", "ANN", [1.0, 0.0]], "top_k": 3},
        {"rank_by": ["text", "BM25", "walrus"], "top_k": 3},
    ]
    rrf = ns.fused_query(queries=queries, top_k=2)
    # id 1 is first in both rankings.
    assert ids(rrf)[0] == 1 and rrf.rows[0].dist == pytest.approx(2 / 61)
    linear = ns.fused_query(queries=queries, method="linear", weights=[0.0, 1.0])
    assert ids(linear)[:2] in ([1, 2], [2, 1]) and linear.rows[0].dist == pytest.approx(1.0)
    with pytest.raises(gannet.InvalidArgument, match="one weight per query"):
        ns.fused_query(queries=queries, weights=[1.0])


def test_concurrent_threads(ns: gannet.Namespace) -> None:
    """Writes and queries from several threads at once (the GIL is released in the engine)."""
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(10):
                ns.write(upsert_rows=[{"id": t * 100 + i, "vector": [float(t), float(i) + 1]}])
                ns.query(rank_by=["vector", "ANN", [1.0, 1.0]], top_k=3)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert ns.query(aggregate_by={"n": ["Count"]}).aggregations == {"n": 40}


def test_remote_api_key_is_checked(client: gannet.Client, server: Any) -> None:
    if client.mode != "remote":
        pytest.skip("remote only")
    bad = gannet.connect(server.url, api_key="wrong-key-0000000")
    with pytest.raises(gannet.PermissionDenied):
        bad.namespace("x").metadata()
    down = gannet.connect(f"http://127.0.0.1:{1}", timeout=2)
    with pytest.raises(gannet.Unavailable):
        list(down.namespaces())


def _without_timings(obj: Any) -> Any:
    """A response with the figures that differ between two engines (timings, cache and
    fetch counts) removed, rows as dicts, vectors as float32 lists."""
    if isinstance(obj, gannet.Row):
        row = {"id": obj.id, **obj.attributes}
        if obj.dist is not None:
            row["$dist"] = obj.dist
        if isinstance(row.get("vector"), np.ndarray):
            row["vector"] = row["vector"].tolist()
        return _without_timings(row)
    if isinstance(obj, dict):
        return {
            k: (np.asarray(v, dtype=np.float32).tolist() if k == "vector" and isinstance(v, list)
                else _without_timings(v))
            for k, v in obj.items()
            if k not in ("performance", "billing")
        }
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def _outcome(client: gannet.Client, name: str, body: dict[str, Any]) -> Any:
    """The decoded response to `body`, or the GannetError it raised."""
    try:
        return client._t.query(name, body)
    except gannet.GannetError as e:
        return e


def test_embedded_query_objects_equal_the_http_responses(
    server: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The embedded engine builds query responses as Python objects from the serializer's
    events; they must equal json.loads of the server's JSON for every value kind."""
    if importlib.util.find_spec("gannet._gannet") is None:
        pytest.skip("gannet._gannet not built")
    embedded = gannet.open(tmp_path_factory.mktemp("gannet-equal") / "data")
    remote = gannet.connect(server.url, api_key=server.api_key)
    name = "eq-" + uuid.uuid4().hex[:12]
    rows = [
        {"id": 1, "vector": [0.1, -2.5e-8], "s": "caf\u00e9 \"q\" \\ \n \u2603 \U0001F600",
         "i": -7, "u": 18446744073709551615, "f": 0.1, "whole": 2.0, "b": True,
         "t": datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc),
         "ref": uuid.UUID("0f0e0d0c-0b0a-0908-0706-050403020100"),
         "tags": ["x", "y\u00ff"], "nums": [1, 2, 3], "text": "the walrus swims"},
        {"id": 2, "vector": [1e-3, 3.0e38], "s": "", "b": False, "tags": [],
         "text": "walrus walrus"},
    ]
    schema = {"u": {"type": "uint"}, "t": {"type": "datetime"}, "ref": {"type": "uuid"},
              "nums": {"type": "[]int"}, "text": {"type": "string", "full_text_search": True}}
    bodies = [
        {"rank_by": ["id", "asc"], "top_k": 10, "include_attributes": True},
        {"rank_by": ["id", "asc"], "top_k": 10, "include_attributes": True,
         "vector_encoding": "base64"},
        {"rank_by": ["vector", "kNN", [0.1, 0.2]], "top_k": 10, "include_attributes": ["s", "t"]},
        {"rank_by": ["text", "BM25", "walrus"], "top_k": 10},
        {"aggregate_by": {"n": ["Count"]}},
        {"aggregate_by": {"n": ["Count"]}, "group_by": ["b"]},
        # Request values the extension writes as JSON itself (escapes, every integer
        # width, floats integral or not, tuples) and ones it leaves to the package's
        # encoder (NumPy scalars, UUIDs, datetimes, non-str keys).
        {"rank_by": ["id", "asc"], "top_k": 10,
         "filters": ["Or", (["s", "Eq", rows[0]["s"]], ["u", "Eq", 18446744073709551615],
                            ["i", "In", (-7, -9223372036854775808)], ["f", "Eq", 0.1],
                            ["whole", "Eq", 2.0], ["s", "Eq", "\x00\x1f\x7f\u2028"])]},
        {"rank_by": ["id", "asc"], "top_k": np.int64(10),
         "filters": ["Or", [["ref", "Eq", uuid.UUID(int=7)],
                            ["t", "Gte", datetime(2024, 3, 1, tzinfo=timezone.utc)]]]},
        {"aggregate_by": {"n": ["Count"]}, "filters": ["u", "Gt", 2**64]},
        {"aggregate_by": {"n": ["Count"]}, "top_k": 1e400},
        {"queries": [{"rank_by": ["text", "BM25", "walrus"], "top_k": 5},
                     {"rank_by": ["id", "desc"], "top_k": 1, "include_attributes": ["tags"]}]},
        {"queries": [{"rank_by": ["text", "BM25", "walrus"], "top_k": 5},
                     {"rank_by": ["vector", "kNN", [1.0, 0.0]], "top_k": 5}],
         "rank_fusion": {"method": "rrf"}},
    ]
    try:
        for c in (embedded, remote):
            c.namespace(name).write(upsert_rows=rows, schema=schema,
                                    distance_metric="cosine_distance")
        for body in bodies:
            got = _outcome(embedded, name, body)
            want = _outcome(remote, name, body)
            if isinstance(want, gannet.GannetError):
                assert (type(got), str(got)) == (type(want), str(want)), body
                continue
            assert set(got) == set(want), body
            assert _without_timings(got) == _without_timings(want), body
            assert set(got.get("performance", {})) == set(want.get("performance", {}))
            # The extension also takes the body as JSON text.
            as_text = embedded._t.query(name, _encode.dumps(body))
            assert _without_timings(as_text) == _without_timings(got), body
    finally:
        if remote.namespace(name).exists():
            remote.namespace(name).delete_all()
        embedded.close()
        remote.close()
