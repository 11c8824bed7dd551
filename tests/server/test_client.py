"""Compatibility: the official `turbopuffer` Python client (PyPI) against `gannet serve`.

Every call goes through the unmodified client pointed at the server with base_url; see
conftest.py for the one quirk (no region with a custom base_url).
"""

import pytest
import turbopuffer


def ids(rows):
    return [r.id for r in rows]


def test_row_and_column_writes_then_vector_query(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    w = ns.write(
        upsert_rows=[
            {"id": 1, "vector": [1.0, 0.0], "color": "red", "size": 3},
            {"id": 2, "vector": [0.0, 1.0], "color": "blue", "size": 5},
        ],
        distance_metric="euclidean_squared",
    )
    assert w.status == "OK" and w.rows_upserted == 2 and w.rows_affected == 2
    w = ns.write(
        upsert_columns={
            "id": [3, 4],
            "vector": [[0.9, 0.1], [0.5, 0.5]],
            "color": ["red", "green"],
            "size": [7, 9],
        }
    )
    assert w.rows_upserted == 2
    q = ns.query(rank_by=("vector", "ANN", [1.0, 0.0]), top_k=3, include_attributes=["color"])
    assert ids(q.rows) == [1, 3, 4]
    assert q.rows[0]["$dist"] == pytest.approx(0.0)
    assert q.rows[1]["color"] == "red"
    assert q.performance.approx_namespace_size == 4
    # kNN with a filter is exact as well.
    q = ns.query(rank_by=("vector", "kNN", [1.0, 0.0]), top_k=10, filters=("color", "Eq", "red"))
    assert ids(q.rows) == [1, 3]


def test_filters_and_attribute_order(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(
        upsert_rows=[
            {"id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 3}"]}
            for i in range(1, 21)
        ]
    )
    q = ns.query(
        rank_by=("n", "desc"),
        top_k=3,
        filters=("And", [("tag", "Eq", "even"), ("n", "Lt", 15)]),
        include_attributes=True,
    )
    assert ids(q.rows) == [14, 12, 10]
    assert q.rows[0]["tag"] == "even"
    q = ns.query(rank_by=("id", "asc"), top_k=100, filters=("tags", "Contains", "t0"))
    assert ids(q.rows) == [3, 6, 9, 12, 15, 18]
    q = ns.query(
        rank_by=("id", "asc"),
        top_k=100,
        filters=("Or", [("n", "In", [1, 2]), ("Not", ("n", "Lte", 19))]),
    )
    assert ids(q.rows) == [1, 2, 20]
    q = ns.query(rank_by=("id", "asc"), top_k=2, filters=("tag", "Glob", "ev*"))
    assert ids(q.rows) == [2, 4]


def test_aggregations_and_multi_query(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=[{"id": i, "color": ["red", "blue"][i % 2]} for i in range(10)])
    agg = ns.query(aggregate_by={"n": ("Count",)})
    assert agg.aggregations == {"n": 10}
    grouped = ns.query(aggregate_by={"n": ("Count",)}, group_by=["color"])
    assert sorted((g["color"], g["n"]) for g in grouped.aggregation_groups) == [
        ("blue", 5),
        ("red", 5),
    ]
    multi = ns.multi_query(
        queries=[
            {"rank_by": ("id", "desc"), "top_k": 2},
            {"aggregate_by": {"n": ("Count",)}, "filters": ("color", "Eq", "red")},
        ]
    )
    assert len(multi.results) == 2
    assert ids(multi.results[0].rows) == [9, 8]
    assert multi.results[1].aggregations == {"n": 5}


def test_patches_deletes_and_conditions(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=[{"id": i, "v": i, "color": "red"} for i in range(1, 6)])
    w = ns.write(
        patch_rows=[{"id": 1, "color": "blue"}],
        patch_columns={"id": [2], "color": ["green"]},
        deletes=[3],
        return_affected_ids=True,
    )
    assert sorted(w.patched_ids) == [1, 2] and w.deleted_ids == [3]
    assert w.rows_patched == 2 and w.rows_deleted == 1
    w = ns.write(delete_by_filter=("v", "Gte", 5))
    assert w.rows_deleted == 1
    # Conditional upsert: only where the stored version is older than the new one.
    w = ns.write(
        upsert_rows=[{"id": 1, "v": 0, "color": "x"}, {"id": 2, "v": 10, "color": "y"}],
        upsert_condition=("v", "Lt", {"$ref_new": "v"}),
    )
    assert w.rows_upserted == 1
    w = ns.write(deletes=[4], delete_condition=("color", "Eq", "nope"))
    assert w.rows_deleted == 0
    q = ns.query(rank_by=("id", "asc"), top_k=10, include_attributes=["v", "color"])
    assert [(r.id, r["v"], r["color"]) for r in q.rows] == [(1, 1, "blue"), (2, 10, "y"), (4, 4, "red")]


def test_namespaces_metadata_schema_and_delete(tpuf, ns_name):
    for suffix in ("a", "b", "c"):
        tpuf.namespace(f"{ns_name}-{suffix}").write(upsert_rows=[{"id": "doc", "x": 1.5}])
    listed = [n.id for n in tpuf.namespaces(prefix=ns_name)]
    assert listed == [f"{ns_name}-a", f"{ns_name}-b", f"{ns_name}-c"]
    # Pagination through the client's auto-paging iterator.
    paged = [n.id for n in tpuf.namespaces(prefix=ns_name, page_size=1)]
    assert paged == listed

    ns = tpuf.namespace(f"{ns_name}-a")
    md = ns.metadata()
    assert md.approx_row_count == 1
    assert md.schema_["x"].type == "float"
    assert md.schema_["id"].type == "string"
    assert md.index.status in ("up-to-date", "updating")
    assert md.created_at <= md.updated_at
    schema = ns.update_schema(schema={"label": {"type": "string", "filterable": False}})
    assert schema["label"].type == "string" and schema["label"].filterable is False
    assert ns.schema()["label"].type == "string"
    assert ns.hint_cache_warm().status == "ACCEPTED"
    assert ns.exists()
    assert ns.delete_all().status == "OK"
    assert not ns.exists()
    with pytest.raises(turbopuffer.NotFoundError):
        ns.query(rank_by=("id", "asc"), top_k=1)
    with pytest.raises(turbopuffer.NotFoundError):
        ns.delete_all()


def test_recall_reports_exact_engine(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=[{"id": i, "vector": [float(i % 7), float(i % 5), 1.0]} for i in range(50)])
    r = ns.recall(num=5, top_k=10)
    assert r.avg_recall == 1.0
    assert r.avg_ann_count == r.avg_exhaustive_count == 10.0
    r = ns.recall(num=2, top_k=3, include_ground_truth=True)
    assert len(r.ground_truth) == 2 and len(r.ground_truth[0].nearest_neighbors) == 3


def test_client_errors(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=[{"id": 1, "vector": [1.0, 2.0]}])
    with pytest.raises(turbopuffer.BadRequestError) as e:
        ns.write(upsert_rows=[{"id": 2, "vector": [1.0, 2.0, 3.0]}])
    assert "dimension" in str(e.value).lower() or "[2]f32" in str(e.value)
    with pytest.raises(turbopuffer.BadRequestError) as e:
        ns.query(rank_by=("vector", "ANN", [1.0, 2.0]), top_k=10001)
    assert "top_k" in str(e.value)
    with pytest.raises(turbopuffer.BadRequestError):
        ns.query(rank_by=("vector", "ANN", [1.0, 2.0]), filters=("x", "Bogus", 1))


FTS_DOCS = [
    {"id": 1, "vector": [1.0, 0.0],
     "content": "turbopuffer is a fast search engine with FTS, filtering, and vector search support"},
    {"id": 2, "vector": [0.0, 1.0],
     "content": "turbopuffer can store billions and billions of documents cheaper than any other "
                "search engine"},
    {"id": 3, "vector": [0.7, 0.7],
     "content": "turbopuffer will support many more types of queries as it evolves. turbopuffer "
                "will only get faster."},
]


def test_full_text_search_as_in_turbopuffers_guide(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=FTS_DOCS,
             schema={"content": {"type": "string", "full_text_search": True}},
             distance_metric="cosine_distance")
    # The ranking turbopuffer's full-text guide shows for this example.
    q = ns.query(rank_by=("content", "BM25", "turbopuffer"), top_k=10,
                 include_attributes=["content"])
    assert ids(q.rows) == [3, 1, 2]
    assert q.rows[0]["$dist"] > q.rows[1]["$dist"] > q.rows[2]["$dist"] > 0
    q = ns.query(rank_by=("content", "BM25", "turbopuffer"),
                 filters=("content", "ContainsAllTokens", "search engine"), top_k=10)
    assert ids(q.rows) == [1, 2]
    q = ns.query(rank_by=("Sum", [("Product", [2, ("content", "BM25", "billions")]),
                                  ("content", "BM25", "faster")]), top_k=10)
    assert ids(q.rows) == [2, 3]
    q = ns.query(rank_by=("id", "asc"), top_k=10,
                 filters=("content", "ContainsTokenSequence", "search eng", {"last_as_prefix": True}))
    assert ids(q.rows) == [1, 2]
    with pytest.raises(turbopuffer.BadRequestError) as e:
        ns.query(rank_by=("vector", "BM25", "x"), top_k=1)
    assert "no full_text_search index" in str(e.value)


def test_rank_by_attribute_saturate_decay_dist(tpuf, ns_name):
    """turbopuffer's attribute boosts, typed by the client's SaturateParams/DecayParams."""
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=[
        {"id": 1, "content": "walrus facts", "clicks": 100, "at": "2026-02-03T06:13:14Z"},
        {"id": 2, "content": "walrus walrus walrus", "clicks": 0,
         "at": "2026-01-01T12:13:14Z"},
        {"id": 3, "content": "cold seas", "clicks": 300},
    ], schema={"content": {"type": "string", "full_text_search": True},
               "at": {"type": "datetime"}})
    bm25 = {r.id: r["$dist"] for r in ns.query(rank_by=("content", "BM25", "walrus"),
                                              top_k=10).rows}
    assert bm25[2] > bm25[1]
    popular = ns.query(rank_by=("Sum", [("content", "BM25", "walrus"),
                                        ("Product", 1.7, ("Saturate", ("Attribute", "clicks"),
                                                          {"midpoint": 100}))]), top_k=10)
    got = {r.id: r["$dist"] for r in popular.rows}
    assert got[1] == pytest.approx(bm25[1] + 1.7 * 0.5)
    assert got[3] == pytest.approx(1.7 * 0.75)
    recent = ns.query(rank_by=("Sum", [("content", "BM25", "walrus"),
                                       ("Decay", ("Dist", ("Attribute", "at"),
                                                  "2026-02-03T12:13:14Z"),
                                        {"midpoint": "6h"})]), top_k=10)
    got = {r.id: r["$dist"] for r in recent.rows}
    assert got[1] == pytest.approx(bm25[1] + 0.5)
    assert ids(recent.rows)[0] == 1  # six hours old beats a month old
    assert 3 not in got  # no "at" and no "walrus"
    with pytest.raises(turbopuffer.BadRequestError) as e:
        ns.query(rank_by=("Decay", ("Attribute", "clicks"), {"midpoint": "soon"}), top_k=1)
    assert "rank_by[2].midpoint" in str(e.value)


def test_hybrid_multi_query_on_one_snapshot(tpuf, ns_name):
    ns = tpuf.namespace(ns_name)
    ns.write(upsert_rows=FTS_DOCS,
             schema={"content": {"type": "string", "full_text_search": True}},
             distance_metric="cosine_distance")
    multi = ns.multi_query(queries=[
        {"rank_by": ("vector", "ANN", [0.0, 1.0]), "top_k": 3},
        {"rank_by": ("content", "BM25", "search engine"), "top_k": 3},
    ])
    vec, bm25 = (ids(r.rows) for r in multi.results)
    assert vec[0] == 2 and set(bm25) == {1, 2}
    # Reciprocal-rank fusion, client side ...
    fused = {}
    for ranking in (vec, bm25):
        for rank, i in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + 1.0 / (60 + rank + 1)
    assert max(fused, key=fused.get) == 2
    # ... and server side with turbopuffer's rerank_by: one result of fused rows.
    queries = [
        {"rank_by": ("vector", "ANN", [0.0, 1.0]), "top_k": 3},
        {"rank_by": ("content", "BM25", "search engine"), "top_k": 3},
    ]
    rr = ns.multi_query(queries=queries, rerank_by=("RRF",), limit=2)
    assert len(rr.results) == 1
    rows = rr.results[0].rows
    assert ids(rows) == sorted(fused, key=lambda i: (-fused[i], i))[:2]
    assert rows[0]["$dist"] == pytest.approx(fused[rows[0].id])
    rr = ns.multi_query(queries=queries, rerank_by=("RRF", {"rank_constant": 1, "weights": [1, 3]}),
                        limit=1, offset=1)
    assert len(rr.results[0].rows) == 1
    with pytest.raises(turbopuffer.BadRequestError) as e:
        ns.multi_query(queries=queries, rerank_by=("RRF", {"weights": [1]}))
    assert "one weight per query" in str(e.value)
