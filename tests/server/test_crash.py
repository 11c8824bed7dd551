"""Real-process crash loop for the server: writers post batches over HTTP while the
server is killed with SIGKILL at random moments (during ingest and background indexing);
after each restart every acknowledged batch must be present, whole, exactly once.

GANNET_SERVER_CRASH_ITERATIONS sets the number of kills (default 8).
"""

import json
import os
import random
import signal
import threading
import time

import requests

from conftest import Server

DOCS_PER_BATCH = 4


def _batch(name):
    return {
        "upsert_rows": [
            {"id": f"{name}-{i}", "batch": name, "i": i, "vector": [float(i), 1.0]}
            for i in range(DOCS_PER_BATCH)
        ]
    }


def _writer(url, tag, acked, stop):
    n = 0
    session = requests.Session()
    while not stop.is_set():
        name = f"{tag}-{n}"
        n += 1
        try:
            r = session.post(f"{url}/v2/namespaces/crash", data=json.dumps(_batch(name)), timeout=5)
        except requests.RequestException:
            return  # the server died mid-request: not acknowledged
        if r.status_code == 200:
            acked.add(name)


def _read_all(url):
    """Every row, ordered by id, page by page (a query returns at most 10,000 rows)."""
    rows = []
    while True:
        query = {"rank_by": ["id", "asc"], "top_k": 10000, "include_attributes": ["batch"]}
        if rows:
            query["filters"] = ["id", "Gt", rows[-1]["id"]]
        r = requests.post(f"{url}/v2/namespaces/crash/query", json=query, timeout=30)
        if r.status_code == 404 and not rows:
            return None
        assert r.status_code == 200, r.text
        page = r.json()["rows"]
        rows.extend(page)
        if len(page) < 10000:
            return rows


def _verify(url, acked):
    rows = _read_all(url)
    if rows is None:
        assert not acked, "the namespace is gone"
        return 0
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "an id appears twice"
    per_batch = {}
    for row in rows:
        per_batch[row["batch"]] = per_batch.get(row["batch"], 0) + 1
    partial = {b: n for b, n in per_batch.items() if n != DOCS_PER_BATCH}
    assert not partial, f"partially visible batches: {partial}"
    lost = sorted(acked - set(per_batch))
    assert not lost, f"acknowledged batches lost: {lost[:10]}"
    return len(per_batch)


def test_sigkill_loop_loses_no_acknowledged_write(tmp_path):
    iterations = int(os.environ.get("GANNET_SERVER_CRASH_ITERATIONS", "8"))
    rng = random.Random(4242)
    data = tmp_path / "data"
    acked = set()
    seen = 0
    for it in range(iterations):
        server = Server(data, tmp_path / f"server{it}.log").wait_ready()
        try:
            seen = _verify(server.url, acked)
            stop = threading.Event()
            threads = [
                threading.Thread(target=_writer, args=(server.url, f"k{it}w{w}", acked, stop))
                for w in range(3)
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.2, 1.2))
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            stop.set()
            for t in threads:
                t.join(timeout=10)
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
            server.log_file.close()
    final = Server(data, tmp_path / "final.log").wait_ready()
    try:
        seen = _verify(final.url, acked)
    finally:
        assert final.stop() == 0
    assert acked, "no write was acknowledged at all"
    assert seen >= len(acked)
    print(f"server crash loop: {iterations} kills, {len(acked)} acknowledged batches verified")
