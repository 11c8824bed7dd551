"""Raw HTTP tests of `gannet serve` with `requests` and sockets: error shapes and codes,
bad input, auth, limits, metrics, health, keep-alive, access log and graceful shutdown."""

import json
import re
import socket
import threading
import time

import pytest
import requests


def post(server, path, body, **kw):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(server.url + path, data=data, timeout=30, **kw)


def assert_error(r, code, needle=None):
    assert r.status_code == code, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "error" and isinstance(body["error"], str), body
    if needle is not None:
        assert needle in body["error"], body["error"]
    return body["error"]


@pytest.fixture
def ns(server, ns_name):
    r = post(server, f"/v2/namespaces/{ns_name}", {
        "upsert_rows": [{"id": i, "vector": [float(i), 1.0], "n": i} for i in range(1, 6)]})
    assert r.status_code == 200, r.text
    return ns_name


# ------------------------------------------------------------------------- basics

def test_health_and_ready(server):
    assert requests.get(server.url + "/healthz").json() == {"status": "ok"}
    assert requests.get(server.url + "/readyz").json() == {"status": "ready"}


def test_write_query_roundtrip_and_response_shape(server, ns):
    r = post(server, f"/v2/namespaces/{ns}/query",
             {"rank_by": ["vector", "ANN", [5.0, 1.0]], "top_k": 2, "include_attributes": ["n"]})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert [row["id"] for row in body["rows"]] == [5, 4]
    assert "$dist" in body["rows"][0] and body["rows"][0]["n"] == 5
    assert {"server_total_ms", "query_execution_ms", "approx_namespace_size"} <= set(body["performance"])
    # Query strings (the client's stainless_overload hint) are ignored.
    r = post(server, f"/v2/namespaces/{ns}/query?stainless_overload=multiQuery",
             {"queries": [{"rank_by": ["n", "asc"], "top_k": 1}, {"aggregate_by": {"c": ["Count"]}}]})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"rows": [{"id": 1}]}, {"aggregations": {"c": 5}}]


def test_vectors_as_base64(server, ns_name):
    import base64
    import struct
    b64 = base64.b64encode(struct.pack("<2f", 0.5, 0.25)).decode()
    r = post(server, f"/v2/namespaces/{ns_name}", {"upsert_rows": [{"id": 1, "vector": b64}]})
    assert r.status_code == 200, r.text
    r = post(server, f"/v2/namespaces/{ns_name}/query",
             {"rank_by": ["vector", "ANN", b64], "top_k": 1, "include_attributes": ["vector"],
              "vector_encoding": "base64"})
    assert r.status_code == 200, r.text
    assert r.json()["rows"][0]["vector"] == b64


def test_list_namespaces_pagination(server, ns_name):
    for i in range(3):
        post(server, f"/v2/namespaces/{ns_name}-{i}", {"upsert_rows": [{"id": 1}]})
    r = requests.get(server.url + "/v1/namespaces", params={"prefix": ns_name, "page_size": 2})
    body = r.json()
    assert [n["id"] for n in body["namespaces"]] == [f"{ns_name}-0", f"{ns_name}-1"]
    r = requests.get(server.url + "/v1/namespaces",
                     params={"prefix": ns_name, "page_size": 2, "cursor": body["next_cursor"]})
    assert [n["id"] for n in r.json()["namespaces"]] == [f"{ns_name}-2"]
    assert_error(requests.get(server.url + "/v1/namespaces", params={"page_size": 0}), 400, "page_size")
    assert_error(requests.get(server.url + "/v1/namespaces", params={"page_size": "x"}), 400, "page_size")


def test_metadata_shape(server, ns):
    for version in ("v1", "v2"):
        md = requests.get(f"{server.url}/{version}/namespaces/{ns}/metadata").json()
        assert md["approx_row_count"] == 5
        assert md["schema"]["vector"]["type"] == "[2]f32"
        assert re.match(r"\d{4}-\d\d-\d\dT", md["created_at"])
        assert md["index"]["status"] in ("up-to-date", "updating")


# ------------------------------------------------------------------------- errors

def test_not_found_and_routing_errors(server):
    assert_error(post(server, "/v2/namespaces/missing-ns/query", {}), 404, "not found")
    assert_error(requests.delete(server.url + "/v2/namespaces/missing-ns"), 404)
    assert_error(requests.get(server.url + "/v1/namespaces/missing-ns/metadata"), 404)
    assert_error(requests.get(server.url + "/v1/namespaces/missing-ns/schema"), 404)
    assert_error(requests.get(server.url + "/nope"), 404)
    assert_error(requests.get(server.url + "/v2/namespaces/x/query"), 405)
    assert_error(requests.put(server.url + "/v2/namespaces/x"), 405)
    assert_error(post(server, "/v1/namespaces/x", {}), 404, "/v2")
    assert_error(post(server, "/v2/namespaces/bad%20name", {"upsert_rows": [{"id": 1}]}), 400)


BAD_WRITES = [
    ("{bad", "malformed JSON"),
    ("[]", "expected object"),
    ('{"upsert_rows": {}}', "upsert_rows"),
    ('{"upsert_rows": [{"id": 1}], "bogus": 1}', "bogus: unknown field"),
    ('{"upsert_rows": [{"id": 1, "n": 1e999}]}', ""),
    ('{"upsert_rows": [{"id": 18446744073709551616}]}', ""),
    ('{"upsert_rows": [{"id": 1, "n": NaN}]}', "malformed JSON"),
    ('{"upsert_rows": [{"id": 1, "n": Infinity}]}', "malformed JSON"),
    ('{"upsert_rows": [{"id": "' + "x" * 65 + '"}]}', "64"),
    ('{"upsert_rows": [{"id": 1}, {"id": 1}]}', "duplicate"),
    ('{"deletes": "x"}', "deletes"),
    ("[" * 600 + "]" * 600, "nesting"),
    ("{}", "no operation"),
]


@pytest.mark.parametrize("body,needle", BAD_WRITES)
def test_bad_writes_are_400_with_a_message(server, ns_name, body, needle):
    r = post(server, f"/v2/namespaces/{ns_name}", body)
    msg = assert_error(r, 400)
    assert needle.lower() in msg.lower(), msg
    assert requests.get(server.url + "/healthz").status_code == 200


def test_invalid_utf8_and_wrong_types(server, ns):
    r = post(server, f"/v2/namespaces/{ns}", b'{"upsert_rows": [{"id": 9, "s": "\xff\xfe"}]}')
    assert_error(r, 400)
    # The type of n is int: a string is refused, naming the attribute.
    r = post(server, f"/v2/namespaces/{ns}", {"upsert_rows": [{"id": 9, "n": "seven"}]})
    assert "n" in assert_error(r, 400)
    r = post(server, f"/v2/namespaces/{ns}", {"upsert_rows": [{"id": 9, "vector": [1.0, 2.0, 3.0]}]})
    assert_error(r, 400)


BAD_QUERIES = [
    ({"top_k": "x"}, "top_k"),
    ({"top_k": 10001}, "top_k"),
    ({"rank_by": ["vector", "ANN", [1.0, 2.0, 3.0]]}, ""),
    ({"rank_by": ["n", "sideways"]}, "rank_by"),
    ({"filters": ["n", "Nope", 1]}, "filters"),
    ({"queries": []}, "queries"),
    ({"queries": [{"top_k": 1}], "nope": 1}, "nope"),
    ({"queries": [{"top_k": 1}, {"top_k": 0}]}, "queries[1]"),
    ({"unknown": 1}, "unknown"),
]


@pytest.mark.parametrize("body,needle", BAD_QUERIES)
def test_bad_queries_are_400_with_a_message(server, ns, body, needle):
    msg = assert_error(post(server, f"/v2/namespaces/{ns}/query", body), 400)
    assert needle in msg, msg


def test_filter_depth_limit(server, ns):
    f = ["n", "Eq", 1]
    for _ in range(40):
        f = ["Not", f]
    msg = assert_error(post(server, f"/v2/namespaces/{ns}/query", {"filters": f, "rank_by": ["n", "asc"]}), 400)
    assert "deeper" in msg


def test_malformed_http_is_400_and_server_keeps_serving(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 400"), data
    assert b'"status":"error"' in data
    assert requests.get(server.url + "/healthz").status_code == 200


def test_keep_alive_serves_several_requests_on_one_connection(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        f = s.makefile("rb")
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status = f.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                k, _, v = line.decode().partition(":")
                if k.lower() == "content-length":
                    length = int(v)
                assert not (k.lower() == "connection" and "close" in v.lower())
            assert f.read(length) == b'{"status":"ok"}'


def test_metrics(server, ns):
    post(server, f"/v2/namespaces/{ns}/query", {"rank_by": ["n", "asc"]})
    text = requests.get(server.url + "/metrics").text
    assert re.search(r'gannet_http_requests_total\{route="write",code="200"\} \d+', text)
    assert re.search(r'gannet_http_requests_total\{route="query",code="200"\} \d+', text)
    assert 'gannet_http_request_duration_seconds_bucket{route="query",le="+Inf"}' in text
    assert "gannet_write_commit_duration_seconds_count" in text
    assert re.search(r'gannet_wal_unindexed_rows\{namespace="%s"\} \d+' % ns, text)
    assert "gannet_http_errors_total" in text and "gannet_query_cache_hits_total" in text


def test_access_log_is_json_lines(server, ns):
    requests.get(f"{server.url}/v1/namespaces/{ns}/metadata")
    lines = [json.loads(l) for l in server.log().splitlines() if l.startswith("{")]
    hits = [l for l in lines if l.get("path") == f"/v1/namespaces/{ns}/metadata"]
    assert hits, lines[-5:]
    assert {"time", "method", "path", "status", "ms", "bytes"} <= set(hits[-1])
    assert hits[-1]["status"] == 200 and hits[-1]["method"] == "GET"


# ------------------------------------------------------------------------- limits

def test_body_too_large_is_413(make_server, ns_name):
    s = make_server(args=["--max-request-bytes", "4096"])
    body = {"upsert_rows": [{"id": i, "s": "x" * 100} for i in range(100)]}
    assert_error(post(s, f"/v2/namespaces/{ns_name}", body), 413, "limit")
    assert requests.get(s.url + "/healthz").status_code == 200
    assert post(s, f"/v2/namespaces/{ns_name}", {"upsert_rows": [{"id": 1}]}).status_code == 200


def test_concurrent_queries_beyond_the_queue_get_429(make_server, tmp_path, ns_name):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"limits": {"max_concurrent_queries_per_namespace": 1,
                                          "max_queued_queries_per_namespace": 0}}))
    s = make_server(args=["--config", cfg, "--no-access-log"])
    rows = [{"id": i, "vector": [float((i * 7919) % 1000) / 1000.0] * 64} for i in range(20000)]
    assert post(s, f"/v2/namespaces/{ns_name}", {"upsert_rows": rows}).status_code == 200
    codes = []
    lock = threading.Lock()

    def worker():
        with requests.Session() as sess:
            for _ in range(8):
                r = sess.post(f"{s.url}/v2/namespaces/{ns_name}/query", timeout=60,
                              data=json.dumps({"rank_by": ["vector", "ANN", [0.5] * 64], "top_k": 10}))
                with lock:
                    codes.append(r.status_code)
                if r.status_code == 429:
                    assert r.json()["status"] == "error"

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(codes) <= {200, 429}, codes
    assert 200 in codes and 429 in codes, codes
    assert re.search(r"gannet_query_rejected_total [1-9]", requests.get(s.url + "/metrics").text)


# ------------------------------------------------------------------------- auth

def test_api_keys_from_file(make_server, tmp_path, ns_name):
    keys = tmp_path / "keys"
    keys.write_text("# keys\nadmin-key-123\nreader-key-123 ro\ntenant-key-123 prefix=tenant-\n")
    s = make_server(args=["--api-keys-file", keys])

    def h(key):
        return {"Authorization": f"Bearer {key}"}

    write = {"upsert_rows": [{"id": 1}]}
    assert_error(post(s, f"/v2/namespaces/{ns_name}", write), 401, "missing")
    assert_error(post(s, f"/v2/namespaces/{ns_name}", write, headers=h("wrong-key-123")), 401)
    assert_error(requests.get(s.url + "/v1/namespaces"), 401)
    assert post(s, f"/v2/namespaces/{ns_name}", write, headers=h("admin-key-123")).status_code == 200
    # Read-only key: reads pass, writes and deletes are 403.
    assert_error(post(s, f"/v2/namespaces/{ns_name}", write, headers=h("reader-key-123")), 403, "read-only")
    assert_error(requests.delete(f"{s.url}/v2/namespaces/{ns_name}", headers=h("reader-key-123")), 403)
    r = post(s, f"/v2/namespaces/{ns_name}/query", {"rank_by": ["id", "asc"]}, headers=h("reader-key-123"))
    assert r.status_code == 200, r.text
    # Prefix key: only its namespaces.
    assert_error(post(s, f"/v2/namespaces/{ns_name}", write, headers=h("tenant-key-123")), 403, "tenant-")
    assert post(s, "/v2/namespaces/tenant-a", write, headers=h("tenant-key-123")).status_code == 200
    listed = requests.get(s.url + "/v1/namespaces", headers=h("tenant-key-123")).json()
    assert [n["id"] for n in listed["namespaces"]] == ["tenant-a"]
    everything = requests.get(s.url + "/v1/namespaces", headers=h("admin-key-123")).json()
    assert {n["id"] for n in everything["namespaces"]} == {ns_name, "tenant-a"}
    # Health needs no key.
    assert requests.get(s.url + "/healthz").status_code == 200


def test_api_keys_from_env_and_official_client(make_server, monkeypatch, ns_name):
    import turbopuffer

    s = make_server(env={"GANNET_API_KEYS": "env-key-1234,env-ro-12345 ro"})
    for var in ("TURBOPUFFER_REGION", "TURBOPUFFER_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    good = turbopuffer.Turbopuffer(api_key="env-key-1234", base_url=s.url, max_retries=0)
    good.namespace(ns_name).write(upsert_rows=[{"id": 1}])
    bad = turbopuffer.Turbopuffer(api_key="nope-nope-nope", base_url=s.url, max_retries=0)
    with pytest.raises(turbopuffer.AuthenticationError):
        bad.namespace(ns_name).query(rank_by=("id", "asc"))
    ro = turbopuffer.Turbopuffer(api_key="env-ro-12345", base_url=s.url, max_retries=0)
    with pytest.raises(turbopuffer.PermissionDeniedError):
        ro.namespace(ns_name).write(upsert_rows=[{"id": 2}])


def test_refuses_non_loopback_without_keys(make_server):
    s = make_server(host="0.0.0.0", wait=False)
    assert s.proc.wait(timeout=10) == 2
    assert "insecure-no-auth" in s.log()


def test_insecure_no_auth_logs_that_auth_is_off(make_server):
    s = make_server(host="0.0.0.0", args=["--insecure-no-auth"])
    assert requests.get(s.url + "/healthz").status_code == 200
    assert "authentication is OFF" in s.log()


# ------------------------------------------------------------------------- lifecycle

def test_graceful_shutdown_keeps_acknowledged_writes(make_server, tmp_path, ns_name):
    data = tmp_path / "persist"
    s = make_server(data_dir=data)
    for i in range(20):
        assert post(s, f"/v2/namespaces/{ns_name}", {"upsert_rows": [{"id": i}]}).status_code == 200
    assert s.stop() == 0
    assert '"msg":"stopped"' in s.log()
    s2 = make_server(data_dir=data)
    r = post(s2, f"/v2/namespaces/{ns_name}/query", {"aggregate_by": {"n": ["Count"]}})
    assert r.json()["aggregations"] == {"n": 20}


def test_indexed_vectors_read_by_range_answer_as_resident_ones(make_server, tmp_path, monkeypatch,
                                                                ns_name):
    """GANNET_INDEXED_VECTORS=ranged: once the server has indexed a namespace (vector index,
    segment vectors no longer resident), ANN and kNN answers and returned vectors are the
    ones a server keeping the vectors in memory gives on the same data."""
    import random

    import turbopuffer

    for var in ("TURBOPUFFER_REGION", "TURBOPUFFER_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    bad = make_server(env={"GANNET_INDEXED_VECTORS": "disk"}, wait=False)
    assert bad.proc.wait(timeout=15) != 0
    assert "GANNET_INDEXED_VECTORS: expected memory or ranged, got 'disk'" in bad.log()

    data = tmp_path / "shared"
    rng = random.Random(5)
    rows = [{"id": i, "vector": [rng.gauss(0, 1) for _ in range(8)], "n": i} for i in range(3000)]
    queries = [[rng.gauss(0, 1) for _ in range(8)] for _ in range(5)]

    def answers(server):
        ns = turbopuffer.Turbopuffer(api_key="x", base_url=server.url, max_retries=0).namespace(
            ns_name)
        out = []
        for q in queries:
            for how in ("ANN", "kNN"):
                r = ns.query(rank_by=("vector", how, q), top_k=10,
                             include_attributes=["vector", "n"])
                out.append([(row.id, row["$dist"], row["vector"], row["n"]) for row in r.rows])
            r = ns.query(rank_by=("vector", "ANN", q), top_k=5, filters=("n", "Lt", 30))
            out.append([row.id for row in r.rows])
        return out

    ranged = make_server(env={"GANNET_INDEXED_VECTORS": "ranged"}, data_dir=data)
    ns = turbopuffer.Turbopuffer(api_key="x", base_url=ranged.url, max_retries=0).namespace(ns_name)
    for b in range(0, 3000, 1000):
        ns.write(upsert_rows=rows[b:b + 1000], distance_metric="euclidean_squared")
    deadline = time.time() + 60  # background indexing after 2 s idle
    while time.time() < deadline:
        text = requests.get(ranged.url + "/metrics").text
        if re.search(r'gannet_wal_unindexed_rows\{namespace="%s"\} 0\b' % ns_name, text):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the namespace was not indexed")
    assert any(p.name.endswith(".ivf") for p in data.rglob("*")), "no vector index was built"
    got = answers(ranged)

    def memory(server):
        text = requests.get(server.url + "/metrics").text
        m = re.search(r'gannet_namespace_memory_bytes\{namespace="%s"\} (\d+)' % ns_name, text)
        return int(m.group(1))

    ranged_bytes = memory(ranged)
    assert ranged.stop() == 0
    resident = make_server(data_dir=data)
    assert got == answers(resident)
    # The resident server holds the 3000 × 8 floats (and their norms) the other does not.
    assert memory(resident) >= ranged_bytes + 3000 * 8 * 4
    assert got[0][0][2] == pytest.approx(
        next(r["vector"] for r in rows if r["id"] == got[0][0][0]), rel=1e-6)
