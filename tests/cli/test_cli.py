"""End-to-end tests of the `gannet` command-line tool.

The binary comes from $GANNET_BIN, else ./build/gannet (relative to the repository root).
Each test uses its own data directory under pytest's tmp_path.
"""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _binary():
    b = os.environ.get("GANNET_BIN")
    path = Path(b) if b else REPO / "build" / "gannet"
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    return path


BIN = _binary()


@pytest.fixture(autouse=True)
def _require_binary():
    if not BIN.exists():
        pytest.fail(f"gannet binary not found at {BIN}; build it or set GANNET_BIN")


class Cli:
    def __init__(self, data):
        self.data = data

    def run(self, *args, input=None, check=None):
        env = dict(os.environ)
        env.pop("GANNET_DATA", None)
        p = subprocess.run(
            [str(BIN), "--data", str(self.data), *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        if check is not None:
            assert p.returncode == check, (
                f"gannet {' '.join(map(str, args))}: exit {p.returncode}, want {check}\n"
                f"stdout: {p.stdout}\nstderr: {p.stderr}"
            )
        return p

    def ok(self, *args, input=None):
        return self.run(*args, input=input, check=0)

    def json(self, *args, input=None):
        return json.loads(self.ok(*args, input=input).stdout)


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path / "data")


def write_request(cli, ns, request):
    return cli.json("write", ns, "-", input=json.dumps(request))


# ---------------------------------------------------------------------------- write/query


def test_write_request_and_query_round_trip(cli):
    resp = write_request(
        cli,
        "docs",
        {
            "distance_metric": "euclidean_squared",
            "upsert_rows": [
                {"id": 1, "title": "one", "price": 10, "vector": [0.0, 0.0]},
                {"id": 2, "title": "two", "price": 20, "vector": [1.0, 1.0]},
                {"id": 3, "title": "three", "price": 30, "vector": [5.0, 5.0]},
            ],
        },
    )
    assert resp["rows_upserted"] == 3

    q = {"rank_by": ["vector", "kNN", [0.9, 1.2]], "top_k": 2, "include_attributes": ["title"]}
    out = cli.json("query", "docs", json.dumps(q))
    assert [r["id"] for r in out["rows"]] == [2, 1]
    assert out["rows"][0]["title"] == "two"

    # The same query from stdin, with a filter, pretty-printed.
    q = {"rank_by": ["price", "desc"], "filters": ["price", "Lt", 30], "top_k": 10}
    p = cli.ok("query", "docs", "-", "--pretty", input=json.dumps(q))
    assert "\n  " in p.stdout
    assert [r["id"] for r in json.loads(p.stdout)["rows"]] == [2, 1]

    # Patches and deletes through the request form.
    write_request(cli, "docs", {"patch_rows": [{"id": 1, "title": "uno"}], "deletes": [3]})
    docs = cli.json("get", "docs", "1", "3", "2")
    by_id = {d["id"]: d for d in docs}
    assert set(by_id) == {1, 2}
    assert by_id[1]["title"] == "uno" and by_id[1]["price"] == 10


def test_string_ids_and_get(cli):
    write_request(cli, "s", {"upsert_rows": [{"id": "a-1", "n": 1}, {"id": "b-2", "n": 2}]})
    docs = cli.json("get", "s", "b-2")
    assert docs == [{"id": "b-2", "n": 2}]
    p = cli.ok("get", "s", "zzz")
    assert json.loads(p.stdout) == []
    assert "zzz" in p.stderr


def _vectors(n, dims, seed):
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(dims)] for _ in range(n)]


def test_jsonl_import_then_exact_knn(cli, tmp_path):
    n, dims = 5000, 16
    vecs = _vectors(n, dims, seed=7)
    path = tmp_path / "docs.jsonl"
    with open(path, "w") as f:
        for i, v in enumerate(vecs):
            f.write(json.dumps({"id": i, "group": i % 7, "vector": v}) + "\n")
            if i == 100:
                f.write("\n")  # blank lines are skipped
    p = cli.ok("write", "big", path, "--batch-rows", "700", "--distance-metric",
               "euclidean_squared", "--progress")
    summary = json.loads(p.stdout)
    assert summary["rows_upserted"] == n
    assert summary["batches"] == 8  # ceil(5000 / 700)
    assert "imported 5000 rows" in p.stderr

    info = cli.json("ns", "info", "big")
    assert info["approx_row_count"] == n
    assert info["schema"]["vector"]["type"] == f"[{dims}]f32"

    rng = random.Random(99)
    for _ in range(3):
        q = [rng.uniform(-1, 1) for _ in range(dims)]
        want = sorted(range(n), key=lambda i: sum((a - b) ** 2 for a, b in zip(vecs[i], q)))[:5]
        out = cli.json("query", "big", json.dumps({"rank_by": ["vector", "kNN", q], "top_k": 5}))
        got = [r["id"] for r in out["rows"]]
        assert got[0] == want[0]
        assert got == want


def test_jsonl_duplicate_ids_later_line_wins(cli):
    lines = [{"id": 1, "v": "first"}, {"id": 2, "v": "x"}, {"id": 1, "v": "second"}]
    text = "\n".join(json.dumps(l) for l in lines) + "\n"
    summary = cli.json("write", "dup", "-", input=text)
    assert summary["rows_upserted"] == 3
    assert cli.json("get", "dup", "1") == [{"id": 1, "v": "second"}]


def test_request_detected_even_when_pretty_printed(cli):
    req = {"upsert_rows": [{"id": 5, "a": 1}]}
    resp = cli.json("write", "pp", "-", input=json.dumps(req, indent=2))
    assert resp["rows_upserted"] == 1


# ---------------------------------------------------------------------------- errors


def test_bad_request_field_is_named(cli):
    p = cli.run("write", "e", "-", input=json.dumps({"upsert_rows": [{"id": 1}], "bogus_key": 1}),
                check=1)
    assert p.stderr.startswith("error: InvalidArgument:")
    assert "bogus_key" in p.stderr

    p = cli.run("write", "e", "-", input='{"upsert_rows": [{"id": 1, "a": 1}, {"a": 2}]}', check=1)
    assert "upsert_rows[1]" in p.stderr

    p = cli.run("query", "e", '{"rank_by": ["vector", "kNN", [1, 2]], "top_k": "ten"}', check=1)
    assert "top_k" in p.stderr


def test_bad_jsonl_line_names_line_and_keeps_committed_batches(cli):
    good = [json.dumps({"id": i, "a": i}) for i in range(1, 5)]
    text = "\n".join(good + ['{"id": 5, "a": ', json.dumps({"id": 6, "a": 6})]) + "\n"
    p = cli.run("write", "j", "-", "--batch-rows", "2", input=text, check=1)
    assert "line 5" in p.stderr
    assert "4 rows" in p.stderr and "committed" in p.stderr
    info = cli.json("ns", "info", "j")
    assert info["approx_row_count"] == 4

    # A line without an id, in a fresh namespace: nothing written.
    p = cli.run("write", "j2", "-", input='{"id": 1}\n{"a": 2}\n', check=1)
    assert "line 2" in p.stderr and "nothing was written" in p.stderr
    assert cli.run("ns", "info", "j2", check=1).stderr.startswith("error: NotFound:")


def test_type_violation_names_row_attribute_and_types(cli):
    write_request(cli, "t", {"upsert_rows": [{"id": 1, "price": 1.5}]})
    p = cli.run("write", "t", "-", input=json.dumps({"upsert_rows": [{"id": 7, "price": "cheap"}]}),
                check=1)
    err = p.stderr
    assert err.startswith("error: InvalidArgument:")
    assert "7" in err and "price" in err and "float" in err and "string" in err

    # JSONL: the violating line is named; the earlier batch stays.
    text = "\n".join(json.dumps(d) for d in [
        {"id": 10, "price": 1.0}, {"id": 11, "price": 2.0}, {"id": 12, "price": True}]) + "\n"
    p = cli.run("write", "t", "-", "--batch-rows", "2", input=text, check=1)
    assert "line 3" in p.stderr and "price" in p.stderr and "bool" in p.stderr
    assert "committed" in p.stderr
    assert [d["id"] for d in cli.json("get", "t", "10", "11", "12")] == [10, 11]


def test_usage_errors_exit_2(cli):
    for args, needle in [
        (["write"], "namespace"),
        (["frobnicate"], "frobnicate"),
        (["ns", "info"], "namespace"),
        (["query", "x", "--nope"], "--nope"),
        (["write", "x", "--batch-rows", "zero"], "--batch-rows"),
        (["ns", "list", "--page-size", "0"], "--page-size"),
        (["write", "x", "--distance-metric", "manhattan"], "manhattan"),
    ]:
        p = cli.run(*args, check=2)
        assert needle in p.stderr, (args, p.stderr)
    assert cli.run(check=2).returncode == 2
    assert "usage" in cli.ok("help").stdout
    assert cli.ok("--help").stdout == cli.ok("help").stdout
    assert cli.ok("version").stdout.startswith("gannet ")


def test_bad_namespace_name(cli):
    p = cli.run("write", "bad/name", "-", input='{"id": 1}', check=1)
    assert "InvalidArgument" in p.stderr


# ---------------------------------------------------------------------------- namespaces


def test_ns_list_info_delete(cli):
    for ns in ["alpha", "beta", "beta2", "gamma"]:
        write_request(cli, ns, {"upsert_rows": [{"id": 1, "k": ns}, {"id": 2, "k": ns}]})
    assert cli.json("ns", "list")["namespaces"] == ["alpha", "beta", "beta2", "gamma"]
    # Page size 1 forces the cursor to be followed.
    assert cli.json("ns", "list", "--page-size", "1")["namespaces"] == [
        "alpha", "beta", "beta2", "gamma"]
    assert cli.json("ns", "list", "--prefix", "beta")["namespaces"] == ["beta", "beta2"]

    info = cli.json("ns", "info", "beta")
    assert info["name"] == "beta"
    assert info["approx_row_count"] == 2
    assert info["schema"]["k"]["type"] == "string"
    assert info["created_at"].endswith("Z") and "T" in info["created_at"]
    assert info["wal_sequence"] >= 1
    for key in ["updated_at", "indexed_sequence", "unindexed_rows", "segments",
                "manifest_version", "approx_logical_bytes"]:
        assert key in info

    assert cli.json("ns", "delete", "beta") == {"deleted": "beta"}
    assert cli.json("ns", "list")["namespaces"] == ["alpha", "beta2", "gamma"]
    p = cli.run("ns", "info", "beta", check=1)
    assert p.stderr.startswith("error: NotFound:")
    assert cli.run("ns", "delete", "beta", check=1).stderr.startswith("error: NotFound:")


def test_data_dir_from_environment(tmp_path):
    data = tmp_path / "envdata"
    env = dict(os.environ, GANNET_DATA=str(data))
    p = subprocess.run([str(BIN), "write", "e", "-"], input='{"id": 1}\n', capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (data / "catalog" / "e").exists()


# ---------------------------------------------------------------------------- maintenance


def _populate(cli, ns, n=50, dims=6):
    vecs = _vectors(n, dims, seed=3)
    text = "".join(json.dumps({"id": i, "tag": f"t{i % 3}", "vector": v}) + "\n"
                   for i, v in enumerate(vecs))
    cli.ok("write", ns, "-", "--distance-metric", "cosine_distance", input=text)
    return vecs


def test_index_reports_changes(cli):
    _populate(cli, "m")
    out = cli.json("index", "m")
    assert out["operation"] == "index"
    assert out["after"]["unindexed_rows"] == 0
    assert out["after"]["segments"] >= 1
    assert out["after"]["indexed_sequence"] == out["after"]["wal_sequence"]
    info = cli.json("ns", "info", "m")
    assert info["unindexed_rows"] == 0 and info["segments"] >= 1
    # Compaction and GC run and report.
    assert cli.json("compact", "m")["operation"] == "compact"
    assert cli.json("gc", "m")["operation"] == "gc"


# ---------------------------------------------------------------------------- inspect


def _wal_keys(data, ns):
    return sorted(p.relative_to(data).as_posix() for p in (data / "ns" / ns / "wal").iterdir())


def test_inspect_wal_entry(cli):
    _populate(cli, "w", n=5, dims=6)
    keys = _wal_keys(cli.data, "w")
    assert keys
    out = cli.json("inspect", keys[0])
    assert out["kind"] == "wal entry"
    assert out["sequence"] == 1
    assert len(out["writer_nonce"]) > 0 and all(c in "0123456789abcdef" for c in out["writer_nonce"])
    assert out["created_at"].endswith("Z")
    assert out["schema"]["vector"]["type"] == "[6]f32"
    batch = out["batches"][0]
    assert batch["upserts"] == 5
    doc = batch["upsert_rows"][0]
    assert doc["id"] == 0 and doc["tag"] == "t0"
    assert len(doc["vector"]) == 5 and doc["vector"][4] == "..."
    # --full prints whole vectors; a file path works as well as a key.
    full = cli.json("inspect", cli.data / keys[0], "--full")
    assert len(full["batches"][0]["upsert_rows"][0]["vector"]) == 6


def test_inspect_manifest_and_segment(cli, tmp_path):
    vecs = _populate(cli, "x", n=40, dims=6)
    cli.ok("index", "x")
    m = cli.json("inspect", "ns/x/manifest")
    assert m["kind"] == "manifest"
    assert m["version"] >= 1
    assert m["indexed_through"] >= 1
    assert m["schema"]["tag"]["type"] == "string"
    assert len(m["segments"]) >= 1
    assert sum(s["rows"] for s in m["segments"]) == 40

    # The catalog marker is a manifest too.
    assert cli.json("inspect", "catalog/x")["kind"] == "manifest"

    seg_key = f"ns/x/segments/{m['segments'][0]['id']}"
    s = cli.json("inspect", seg_key, "--limit", "3")
    assert s["kind"] == "segment"
    assert s["rows"] == 40 and s["dims"] == 6
    cols = {c["name"]: c["type"] for c in s["columns"]}
    assert cols.get("tag") == "string"
    assert len(s["documents"]) == 3
    d0 = s["documents"][0]
    assert d0["id"] == 0 and d0["tag"] == "t0"
    assert d0["vector"][:4] == pytest.approx(vecs[0][:4], abs=1e-6)
    assert d0["vector"][4] == "..."


def test_inspect_corrupted_segment_fails(cli, tmp_path):
    _populate(cli, "c", n=40, dims=6)
    cli.ok("index", "c")
    m = cli.json("inspect", "ns/c/manifest")
    seg = cli.data / "ns" / "c" / "segments" / m["segments"][0]["id"]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad = tmp_path / "bad-segment"
    bad.write_bytes(bytes(data))
    p = cli.run("inspect", bad, check=1)
    assert p.stderr.startswith("error: Corruption:"), p.stderr
    assert p.stdout == ""

    # Not a Gannet object at all.
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello world, not an object")
    assert cli.run("inspect", junk, check=1).stderr.startswith("error: Corruption:")
    assert cli.run("inspect", "ns/c/nope", check=1).stderr.startswith("error: NotFound:")


def test_inspect_verify_namespace(cli):
    _populate(cli, "v", n=40, dims=6)
    cli.ok("index", "v")
    _populate(cli, "v", n=10, dims=6)  # an unindexed tail too
    out = cli.json("inspect", "--verify", "v")
    assert out["ok"] is True and out["problems"] == []
    assert out["objects_checked"] >= 3

    m = cli.json("inspect", "ns/v/manifest")
    seg = cli.data / "ns" / "v" / "segments" / m["segments"][0]["id"]
    data = bytearray(seg.read_bytes())
    data[len(data) // 3] ^= 0x01
    seg.write_bytes(bytes(data))
    p = cli.run("inspect", "--verify", "v", check=1)
    report = json.loads(p.stdout)
    assert report["ok"] is False
    assert any("segments/" in prob and "Corruption" in prob for prob in report["problems"])
    assert p.stderr.startswith("error: Corruption:"), p.stderr
    # A query over the damaged namespace fails clearly instead of answering wrongly.
    q = cli.run("query", "v", '{"top_k": 100}', check=1)
    assert q.stderr.startswith("error: Corruption:"), q.stderr
    assert cli.run("inspect", "--verify", "nope", check=1).stderr.startswith("error: NotFound:")


# ---------------------------------------------------------------------------- shell


def test_shell_session(cli):
    script = "\n".join([
        'write s1 {"upsert_rows": [{"id": 1, "a": "x", "vector": [1, 0]}, '
        '{"id": 2, "a": "y", "vector": [0, 1]}], "distance_metric": "euclidean_squared"}',
        "write s1 {\"id\": 3, \"a\": \"z\", \"vector\": [0.9, 0.1]}",
        'query s1 {"rank_by": ["vector", "kNN", [1, 0]], "top_k": 2}',
        "get s1 2",
        "bogus command",
        'write s1 {"upsert_rows": [{"id": 4, "a": 5}]}',
        "",
        "ns list",
        "ns info s1",
        "help",
        "quit",
        "get s1 1",  # after quit: never runs
    ]) + "\n"
    p = cli.run("shell", input=script, check=0)
    assert "gannet> " not in p.stdout  # stdin is not a TTY
    outs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{") or l.startswith("[")]
    assert outs[0]["rows_upserted"] == 2
    assert outs[1]["rows_upserted"] == 1
    assert [r["id"] for r in outs[2]["rows"]] == [1, 3]
    assert outs[3] == [{"id": 2, "a": "y", "vector": [0.0, 1.0]}]
    assert outs[4] == {"namespaces": ["s1"]}
    assert outs[5]["approx_row_count"] == 3
    assert len(outs) == 6
    # Errors are printed and the session continues.
    assert "bogus" in p.stderr
    assert "error: InvalidArgument:" in p.stderr and "'a'" in p.stderr
    assert "query NS {json}" in p.stdout  # help text
