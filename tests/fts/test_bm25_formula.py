"""Gannet's BM25 scores against the formula, computed here in Python.

For a field with full_text_search {stemming: true, remove_stopwords: false}:

    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(d, q) = sum over the distinct terms t of q that d has:
                  idf(t) * (k1 + 1) * tf / (tf + k1 * (1 - b + b * norm(dl) / avgdl))

k1 = 1.2, b = 0.75; N = documents with the field; dl = the document's token count;
avgdl = all tokens of the field / N; norm() = Lucene's SmallFloat.intToByte4 then
byte4ToInt (tantivy's fieldnorm), exact below 24 and rounded down above.

N, df and avgdl count every stored row version, like Lucene and tantivy: a row that was
overwritten or deleted still counts until compaction rewrites its segment (only the
live rows are scored and returned).

The documents use a vocabulary whose words stem to themselves and never to each other,
plus three inflected forms mapped by STEMS (dogs -> dog, cats -> cat, running -> run), so
terms are the lowercased alphanumeric runs. Scores are checked with the rows in the WAL,
after IndexNow (in a segment), and after an upsert and a delete on top of the segment.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "fts"))
import engines  # noqa: E402

K1, B = 1.2, 0.75
REL_TOL = 1e-4
STEMS = {"dogs": "dog", "cats": "cat", "running": "run"}
FTS = {"type": "string", "full_text_search": {"stemming": True, "remove_stopwords": False}}
SCHEMA = {"text": FTS, "word": FTS}

_FILL = " ".join(["zz"] * 40)
DOCS: dict[int, tuple[str, str]] = {  # id: (word, text)
    1: ("fox", "The fox."),
    2: ("dog", "A dog and a fox, and a cat."),
    3: ("cat", "cat cat cat"),
    4: ("bird", "The bird of the sea; the bird of the sky."),
    5: ("fish", "Fish of the sea, fish of the rock, fish of ice!"),
    6: ("sun", "sun moon star"),
    7: ("moon", "The moon, the moon, the moon and the star."),
    8: ("tree", "A tree of iron and gold."),
    9: ("rock", "Rock, salt, iron; rock salt."),
    10: ("wind", "Wind and rain and snow."),
    11: ("dogs", "Dogs running: the dogs and the cats running in the snow."),
    12: ("fire", "Fire and ice, ice and fire, fire fire fire."),
    13: ("gold fox", "gold"),
    14: ("salt", "The sea is salt; the salt sea of the fox."),
    15: ("star", "A star of the sky: star, sun, and moon."),
    16: ("long one", "fox dog " + " ".join(["zz"] * 43)),  # 45 tokens: norm 44
    17: ("long two", "fish " + _FILL),  # 41 tokens: norm 40
    18: ("long three", "cat bird sea " + _FILL + " zz zz zz zz zz zz zz zz zz zz zz zz zz zz"),
    19: ("ice", "Ice, snow and rain; ice and wind."),
    20: ("iron", "iron"),
}

QUERIES = [
    "fox", "dog", "dogs", "cat", "sea", "the", "fire", "moon star", "fox dog cat", "salt sea",
    "ice snow rain wind", "running", "zz", "gold iron", "bird sky sun", "the fox", "nothing",
]


def tokens(text: str) -> list[str]:
    return [STEMS.get(w, w) for w in re.findall(r"[^\W_]+", text.lower())]


def int_to_byte4(i: int) -> int:
    """Lucene SmallFloat.intToByte4 (24 values exact, then 4 significant bits)."""
    if i < 24:
        return i
    v = i - 24
    bits = v.bit_length()
    if bits < 4:
        return 24 + v
    shift = bits - 4
    return 24 + (((v >> shift) & 0x07) | ((shift + 1) << 3))


def byte4_to_int(b: int) -> int:
    if b < 24:
        return b
    i = b - 24
    bits, shift = i & 0x07, (i >> 3) - 1
    return 24 + (bits if shift == -1 else (bits | 0x08) << shift)


def norm(dl: int) -> int:
    return byte4_to_int(int_to_byte4(dl))


def test_norm_matches_lucene() -> None:
    assert [norm(n) for n in range(24)] == list(range(24))
    assert [norm(n) for n in (24, 39, 40, 41, 45, 47, 48, 57, 100, 1000)] == \
        [24, 39, 40, 40, 44, 46, 48, 56, 96, 984]


def bm25(docs: dict[int, str], query: str, stored: Optional[list[str]] = None) -> dict[int, float]:
    """id -> expected score of every document of `docs` that has a term of `query`, with
    N, df and avgdl taken from `stored` (every stored text version; default: docs)."""
    toks = {i: tokens(t) for i, t in docs.items()}
    stats = [tokens(t) for t in stored] if stored is not None else list(toks.values())
    n = len(stats)
    avgdl = sum(len(t) for t in stats) / n
    out: dict[int, float] = {}
    for term in dict.fromkeys(tokens(query)):
        df = sum(1 for t in stats if term in t)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, t in toks.items():
            tf = t.count(term)
            if tf:
                denom = tf + K1 * (1 - B + B * norm(len(t)) / avgdl)
                out[i] = out.get(i, 0.0) + idf * (K1 + 1) * tf / denom
    return out


def check(ns: Any, docs: dict[int, tuple[str, str]], state: str,
          stored: Optional[list[tuple[str, str]]] = None) -> None:
    """Gannet's answers for QUERIES equal the formula's; `stored`: every stored version."""
    texts = {i: t for i, (_, t) in docs.items()}
    words = {i: w for i, (w, _) in docs.items()}
    stored_texts = [t for _, t in stored] if stored is not None else None
    stored_words = [w for w, _ in stored] if stored is not None else None
    for q in QUERIES:
        want = bm25(texts, q, stored_texts)
        res = ns.query(rank_by=["text", "BM25", q], top_k=100)
        got = {int(r.id): float(r.dist) for r in res.rows}
        dists = [float(r.dist) for r in res.rows]
        where = f"[{state}] query {q!r}"
        assert dists == sorted(dists, reverse=True), f"{where}: not ordered by score: {dists}"
        assert set(got) == set(want), f"{where}: ids {sorted(got)} != expected {sorted(want)}"
        for i, s in want.items():
            assert got[i] == pytest.approx(s, rel=REL_TOL), \
                f"{where}: doc {i} ({texts[i]!r}) scored {got[i]}, formula gives {s}"
        # Two fields: text + 2 * word.
        rank = ["Sum", [["text", "BM25", q], ["Product", [2, ["word", "BM25", q]]]]]
        res = ns.query(rank_by=rank, top_k=100)
        got = {int(r.id): float(r.dist) for r in res.rows}
        wt = bm25(words, q, stored_words)
        want2 = {i: want.get(i, 0.0) + 2 * wt.get(i, 0.0) for i in set(want) | set(wt)}
        assert set(got) == set(want2), f"{where} Sum/Product: ids {sorted(got)} != {sorted(want2)}"
        for i, s in want2.items():
            assert got[i] == pytest.approx(s, rel=REL_TOL), \
                f"{where} Sum/Product: doc {i} scored {got[i]}, formula gives {s}"


@pytest.fixture()
def gannet_ns(tmp_path: Path) -> Any:
    gannet, why = engines.import_gannet()
    if gannet is None:
        pytest.fail(why)
    db = gannet.open(str(tmp_path / "db"))
    yield db, db.namespace("bm25")
    db.close()


def test_bm25_scores_match_formula(gannet_ns: Any) -> None:
    db, ns = gannet_ns
    docs = dict(DOCS)
    rows = [{"id": i, "word": w, "text": t} for i, (w, t) in docs.items()]
    ns.write(upsert_rows=rows[:10], schema=SCHEMA)
    ns.write(upsert_rows=rows[10:])
    check(ns, docs, "WAL")

    db._t.index_now(ns.name)
    assert ns.metadata().unindexed_rows == 0
    check(ns, docs, "segment")

    # Overwrite one row and delete another: both old versions stay in the first segment
    # (masked by its deletion vector) and still count in the statistics.
    stored = list(docs.values())
    docs[3] = ("cat", "cat and dog and fox of the sea")
    del docs[12]
    stored.append(docs[3])
    ns.write(upsert_rows=[{"id": 3, "word": docs[3][0], "text": docs[3][1]}], deletes=[12])
    check(ns, docs, "segment + WAL", stored)

    db._t.index_now(ns.name)
    check(ns, docs, "two segments", stored)


def test_stemming_and_case(gannet_ns: Any) -> None:
    """"Dogs", "DOGS" and "dog" are one term; "running" and "run" too."""
    _, ns = gannet_ns
    ns.write(upsert_rows=[{"id": i, "word": w, "text": t} for i, (w, t) in DOCS.items()],
             schema=SCHEMA)

    def scores(q: str) -> list[tuple[int, float]]:
        res = ns.query(rank_by=["text", "BM25", q], top_k=100)
        return sorted((int(r.id), round(float(r.dist), 5)) for r in res.rows)

    assert scores("dogs") == scores("dog") == scores("DOGS") == scores("Dog!")
    assert scores("running") == scores("run")
