"""Several Python processes write one local directory at once through gannet.open; every
acknowledged write must then be readable, whole and once."""

from __future__ import annotations

import importlib.util
import multiprocessing as mp
import sys
from pathlib import Path
from typing import Any

import pytest

import gannet

PROCS = 4
BATCHES = 25
ROWS = 5


def writer(path: str, proc: int, sys_path: list[str], out: Any) -> None:
    sys.path[:] = sys_path
    import gannet as g

    acked: list[int] = []
    db = g.open(path)
    ns = db.namespace("shared")
    for b in range(BATCHES):
        base = proc * 10_000 + b * 100
        rows = [
            {"id": base + r, "vector": [float(proc), float(b), float(r) + 1], "proc": proc, "batch": b}
            for r in range(ROWS)
        ]
        try:
            w = ns.write(upsert_rows=rows, distance_metric="euclidean_squared")
            assert w.rows_upserted == ROWS
            acked.append(b)
        except gannet.GannetError as e:  # not acknowledged: may or may not appear
            print(f"proc {proc} batch {b}: {e}", file=sys.stderr)
        # Reads in between: each strong query catches up on the other processes' writes.
        ns.query(rank_by=["id", "asc"], top_k=1)
    db.close()
    out.put((proc, acked))


@pytest.mark.skipif(
    importlib.util.find_spec("gannet._gannet") is None, reason="gannet._gannet not built"
)
def test_processes_write_one_directory(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    path = str(tmp_path / "data")
    procs = [ctx.Process(target=writer, args=(path, p, list(sys.path), out)) for p in range(PROCS)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    db = gannet.open(path)
    ns = db.namespace("shared")
    rows = ns.query(rank_by=["id", "asc"], top_k=1000, include_attributes=True).rows
    by_id = {r.id: r for r in rows}
    assert len(by_id) == len(rows)
    expected = 0
    for proc, acked in results.items():
        assert len(acked) == BATCHES, f"process {proc} had unacknowledged writes"
        for b in acked:
            for r in range(ROWS):
                row = by_id[proc * 10_000 + b * 100 + r]
                assert row.proc == proc and row.batch == b
                assert list(row.vector) == [float(proc), float(b), float(r) + 1]
                expected += 1
    assert len(rows) == expected == PROCS * BATCHES * ROWS
    md = ns.metadata()
    assert md.approx_row_count == expected
    db.close()
