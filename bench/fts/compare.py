"""Comparing two engines' top-k answers to the same query.

agrees(a, b): the strict check for engines that score alike (Gannet and tantivy):
    1. both return the same number of hits;
    2. their score lists, each sorted best first, are equal position by position within
       a relative tolerance `rel` (so the engines found documents of the same scores);
    3. the ids scoring above the k-th score's tie band (more than `rel` above it) are the
       same set in both. Which of several documents tied at the k-th score fills the last
       places is arbitrary (engines break ties differently), as is the order within any
       tie, so neither is compared.
    With fewer than k hits (every matching document returned), all ids must be equal.

overlap(a, b): |ids(a) & ids(b)| / max(|a|, |b|) (1 when both are empty), for engines
whose scores differ (Xapian, SQLite, PostgreSQL).
"""

from __future__ import annotations

from typing import Sequence

Hit = tuple[int, float]

REL_TOL = 1e-4


def _close(x: float, y: float, rel: float) -> bool:
    return abs(x - y) <= rel * max(abs(x), abs(y), 1e-9)


def agrees(a: Sequence[Hit], b: Sequence[Hit], k: int = 10, rel: float = REL_TOL) -> bool:
    if len(a) != len(b):
        return False
    sa = sorted((s for _, s in a), reverse=True)
    sb = sorted((s for _, s in b), reverse=True)
    if not all(_close(x, y, rel) for x, y in zip(sa, sb)):
        return False
    if len(a) < k:
        return {i for i, _ in a} == {i for i, _ in b}
    last = min(sa[-1], sb[-1])
    band = last + rel * max(abs(last), 1e-9)
    return {i for i, s in a if s > band} == {i for i, s in b if s > band}


def overlap(a: Sequence[Hit], b: Sequence[Hit]) -> float:
    if not a and not b:
        return 1.0
    return len({i for i, _ in a} & {i for i, _ in b}) / max(len(a), len(b))


def explain(a: Sequence[Hit], b: Sequence[Hit]) -> str:
    """A short side-by-side of two answers, for failure messages."""
    lines = []
    for i in range(max(len(a), len(b))):
        x = f"{a[i][0]:>7} {a[i][1]:.6f}" if i < len(a) else " " * 16
        y = f"{b[i][0]:>7} {b[i][1]:.6f}" if i < len(b) else ""
        lines.append(f"  {x}   {y}")
    return "\n".join(lines)
