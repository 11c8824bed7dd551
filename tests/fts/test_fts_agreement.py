"""Gannet's BM25 top 10 against tantivy's on all of GCIDE (about 126,000 entries).

Both index every entry's "text" with the same analysis and score with BM25 (k1 1.2,
b 0.75, fieldnorm quantization), so their answers should be the same up to float rounding
and tie-breaking. Gannet: full_text_search {stemming: true, remove_stopwords: false}.
tantivy: the text pre-analyzed by bench/fts/analysis.gannet_terms (tantivy's simple
tokenizer, remove_long(40) and lowercase, then the system libstemmer's English stemmer,
the one Gannet links: tantivy's own stemmer is an older Snowball English that stems 88
GCIDE terms differently, e.g. "international"), indexed with a whitespace tokenizer.

2,000 generated queries (bench/fts/queries.py, seed 7): 300 each of 1-, 2-, 3- and
5-term queries, 400 of frequent terms (df 500-5000), 200 of rare terms and 200 phrases.
Gannet ranks with ["text", "BM25", q] (phrases: plus the filter
["text", "ContainsTokenSequence", q]); tantivy with a Should TermQuery per distinct term
(phrases: plus a Must PhraseQuery of score 0).

Agreement of one query (bench/fts/compare.py, `agrees`), top_k = 10:
  1. both return the same number of hits;
  2. the two score lists, sorted best first, are equal position by position within a
     relative 1e-4;
  3. the ids scoring more than 1e-4 (relative) above the 10th score are the same set.
     Documents tied with the 10th score may fill the last places differently (each engine
     breaks ties its own way), and the order within a tie is not compared. With fewer
     than 10 hits every id must match.
The test requires agreement on at least 95% of the queries and prints the rate per kind.

test_token_filters_match_tantivy checks the filters exactly: ContainsAllTokens (the
first FILTER_QUERIES 2- and 3-term queries with at most 1,000 matches) and
ContainsTokenSequence (as many phrases) must select the same documents as tantivy's
Must-of-terms and PhraseQuery.

Skipped when dict-gcide (Debian) or tantivy (PyPI) is not installed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "fts"))
import analysis  # noqa: E402
import compare  # noqa: E402
import engines  # noqa: E402
import gcide  # noqa: E402
import queries  # noqa: E402

COUNTS = {"1-term": 300, "2-term": 300, "3-term": 300, "5-term": 300, "frequent": 400,
          "rare": 200, "phrase": 200}
SEED = 7
K = 10
MIN_AGREEMENT = 0.95
FILTER_MAX_MATCHES = 1000
FILTER_QUERIES = 100  # per operator

if not gcide.available():
    pytest.skip("dict-gcide is not installed (apt-get install dict-gcide)",
                allow_module_level=True)
if not analysis.available():
    pytest.skip("tantivy is not installed (pip install tantivy)", allow_module_level=True)


def say(capsys: pytest.CaptureFixture[str], msg: str) -> None:
    with capsys.disabled():
        print(f"\n[fts] {msg}", end="", flush=True)


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.times: dict[str, float] = {}
        t = time.perf_counter()
        self.records = gcide.load()
        self.times["parse GCIDE"] = time.perf_counter() - t
        t = time.perf_counter()
        self.queries = queries.generate(self.records, COUNTS, seed=SEED)
        self.times["generate queries"] = time.perf_counter() - t
        gannet, why = engines.import_gannet()
        if gannet is None:
            pytest.fail(why)
        self.gannet = engines.GannetEngine(str(tmp), gannet)
        self.tantivy = engines.TantivyEngine(str(tmp), threads=1, stemmer="libstemmer")
        for e in (self.gannet, self.tantivy):
            t = time.perf_counter()
            e.index(self.records)
            self.times[f"index {e.name}"] = time.perf_counter() - t

    def close(self) -> None:
        self.gannet.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("fts"))
    yield s
    s.close()


def test_top10_agreement(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    t = time.perf_counter()
    per_kind: dict[str, list[bool]] = {}
    failures: list[str] = []
    for q in setup.queries:
        g = setup.gannet.search(q, K)
        tv = setup.tantivy.search(q, K)
        ok = compare.agrees(g, tv, K)
        per_kind.setdefault(q.kind, []).append(ok)
        if not ok and len(failures) < 5:
            failures.append(f"{q.kind} {q.text!r} (terms {q.terms}): Gannet | tantivy\n"
                            + compare.explain(g, tv))
    setup.times["queries (both engines)"] = time.perf_counter() - t
    n = len(setup.queries)
    agreed = sum(sum(v) for v in per_kind.values())
    rate = agreed / n
    kinds = ", ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in per_kind.items())
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in setup.times.items())
    say(capsys, f"{len(setup.records)} GCIDE entries; {timing}")
    say(capsys, f"top-{K} agreement with tantivy: {rate:.4f} ({agreed}/{n}); {kinds}")
    assert rate >= MIN_AGREEMENT, (
        f"top-{K} agreement {rate:.4f} < {MIN_AGREEMENT} ({kinds}); first disagreements:\n"
        + "\n".join(failures))


def _tantivy_ids(setup: Setup, query: Any) -> tuple[int, set[int]]:
    tv = setup.tantivy
    res = tv.searcher.search(query, limit=FILTER_MAX_MATCHES, count=True)
    ids = tv.searcher.fast_field_values("id", [a for _, a in res.hits]) if res.hits else []
    return int(res.count), {int(i) for i in ids}


def test_token_filters_match_tantivy(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    tv = setup.tantivy
    tq, occur = tv.t.Query, tv.t.Occur
    t = time.perf_counter()
    checked: dict[str, int] = {"ContainsAllTokens": 0, "ContainsTokenSequence": 0}
    mismatches = []
    for q in setup.queries:
        if q.kind == "phrase":
            op = "ContainsTokenSequence"
            query = tq.phrase_query(tv.schema, "text", tv.analyze(q.text))
        elif q.kind in ("2-term", "3-term"):
            op = "ContainsAllTokens"
            query = tq.boolean_query([(occur.Must, tv.term(t)) for t in tv.analyze(q.text)])
        else:
            continue
        if checked[op] >= FILTER_QUERIES:
            continue
        count, want = _tantivy_ids(setup, query)
        if count > FILTER_MAX_MATCHES:
            continue
        res = setup.gannet.ns.query(rank_by=["id", "asc"], top_k=FILTER_MAX_MATCHES,
                                    filters=["text", op, q.text])
        got = {int(r.id) for r in res.rows}
        checked[op] += 1
        if got != want:
            mismatches.append(f"{op} {q.text!r}: only Gannet {sorted(got - want)[:10]}, "
                              f"only tantivy {sorted(want - got)[:10]}")
    say(capsys, f"token filters: {checked} queries compared in {time.perf_counter() - t:.1f} s, "
                f"{len(mismatches)} differ")
    assert all(n == FILTER_QUERIES for n in checked.values()), checked
    assert not mismatches, "\n".join(mismatches[:10])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", *sys.argv[1:]]))
