"""Deterministic full-text queries over GCIDE records (seeded, same output every run).

Kinds:
    1-term, 2-term, 3-term, 5-term   distinct words of one random entry (so they co-occur
                                     the way real query words do), each with document
                                     frequency 2..MAX_DF
    frequent                         1, 2 or 3 words (in turn), each with df in FREQUENT_DF:
                                     long posting lists, where top-k pruning matters
    rare                             1 or 2 words (in turn), each with df in RARE_DF
    phrase                           2 or 3 consecutive words of a random entry (for a
                                     phrase filter), not all with df > MAX_DF

Every query word is lowercase ASCII letters and analyzes to exactly one term, and the
terms of one query are distinct (so engines that would sum a repeated term twice and
engines that would not agree). Terms with df > MAX_DF (the, of, a, ...: stopwords in
effect) appear only inside phrases. df counts entries whose "text" has the term after
Gannet's analysis (analysis.analyze).

    from queries import generate
    qs = generate(records, {"1-term": 100, "phrase": 50}, seed=1)
"""

from __future__ import annotations

import collections
import hashlib
import random
import re
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from analysis import analyze
from gcide import Record

KINDS = ("1-term", "2-term", "3-term", "5-term", "frequent", "rare", "phrase")
MAX_DF = 5000
FREQUENT_DF = (500, 5000)
RARE_DF = (2, 20)

_WORD = re.compile(r"[^\W_]+")  # runs of alphanumerics (what the simple tokenizer keeps)


@dataclass(frozen=True)
class Query:
    kind: str
    text: str  # the query words, single spaces, as sent to every engine
    terms: tuple[str, ...]  # their analyzed terms, in order, distinct


class Vocabulary:
    """Document frequencies of analyzed terms and one query word per term."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self.df: collections.Counter[str] = collections.Counter()
        self.tokens = 0  # terms in all texts, with repeats
        words: collections.Counter[str] = collections.Counter()
        for r in records:
            terms = analyze(r.text)
            self.tokens += len(terms)
            self.df.update(set(terms))
            words.update(_WORD.findall(r.text.lower()))
        # The surface word of each term: its most frequent spelling, ties by spelling.
        best: dict[str, tuple[int, str]] = {}
        for w, n in words.items():
            if not (w.isascii() and w.isalpha() and len(w) >= 2):
                continue
            terms = analyze(w)
            if len(terms) != 1:
                continue
            t = terms[0]
            cur = best.get(t)
            if cur is None or (-n, w) < (-cur[0], cur[1]):
                best[t] = (n, w)
        self.word: dict[str, str] = {t: w for t, (_, w) in best.items()}

    def pool(self, lo: int, hi: int) -> list[str]:
        """Terms with a query word and lo <= df <= hi, sorted."""
        return sorted(t for t in self.word if lo <= self.df[t] <= hi)


def _pick(rng: random.Random, items: Sequence[str], n: int) -> list[str]:
    """n distinct items (partial Fisher-Yates on randrange: stable across Pythons)."""
    items = list(items)
    for i in range(n):
        j = i + rng.randrange(len(items) - i)
        items[i], items[j] = items[j], items[i]
    return items[:n]


def _entry_terms(vocab: Vocabulary, rng: random.Random, n: int) -> Optional[list[str]]:
    r = vocab.records[rng.randrange(len(vocab.records))]
    eligible = sorted(
        t for t in set(analyze(r.text)) if t in vocab.word and 2 <= vocab.df[t] <= MAX_DF
    )
    return _pick(rng, eligible, n) if len(eligible) >= n else None


def _phrase(vocab: Vocabulary, rng: random.Random, n: int) -> Optional[list[str]]:
    r = vocab.records[rng.randrange(len(vocab.records))]
    spans = [m for m in _WORD.finditer(r.text)]
    if len(spans) < n:
        return None
    start = rng.randrange(len(spans) - n + 1)
    window = spans[start : start + n]
    if not r.text[window[0].start() : window[-1].end()].isascii():
        return None
    terms = []
    for m in window:
        w = m.group(0).lower()
        t = analyze(w)
        if not (w.isalpha() and len(w) >= 2 and len(t) == 1):
            return None
        terms.append(t[0])
    if len(set(terms)) != n or all(vocab.df[t] > MAX_DF for t in terms):
        return None
    return [m.group(0).lower() for m in window]


def generate(
    records: Sequence[Record],
    counts: Optional[Mapping[str, int]] = None,
    seed: int = 1,
    vocab: Optional[Vocabulary] = None,
) -> list[Query]:
    """counts[kind] queries of each kind (default 200 of every kind), kinds in KINDS order."""
    counts = dict(counts) if counts is not None else {k: 200 for k in KINDS}
    vocab = vocab or Vocabulary(records)
    frequent = vocab.pool(*FREQUENT_DF)
    rare = vocab.pool(*RARE_DF)
    out: list[Query] = []
    for kind in KINDS:
        want = counts.get(kind, 0)
        rng = random.Random(f"{seed}/{kind}")
        seen: set[str] = set()
        attempts = 0
        while len(seen) < want:
            attempts += 1
            if attempts > 100 * want + 1000:
                raise RuntimeError(f"could not generate {want} distinct {kind} queries")
            i = len(seen)
            terms: Optional[list[str]]
            words: Optional[list[str]]
            if kind == "phrase":
                words = _phrase(vocab, rng, 2 + i % 2)
            else:
                if kind == "frequent":
                    terms = _pick(rng, frequent, 1 + i % 3)
                elif kind == "rare":
                    terms = _pick(rng, rare, 1 + i % 2)
                else:
                    terms = _entry_terms(vocab, rng, int(kind.split("-")[0]))
                words = [vocab.word[t] for t in terms] if terms else None
            if not words:
                continue
            text = " ".join(words)
            if text in seen:
                continue
            seen.add(text)
            out.append(Query(kind, text, tuple(analyze(text))))
    return out


def digest(queries: Sequence[Query]) -> str:
    """A short hash of the queries, to check that two runs generated the same ones."""
    h = hashlib.sha256()
    for q in queries:
        h.update(f"{q.kind}\t{q.text}\n".encode())
    return h.hexdigest()[:16]


if __name__ == "__main__":
    import time

    import gcide

    t0 = time.perf_counter()
    recs = gcide.load()
    t1 = time.perf_counter()
    v = Vocabulary(recs)
    t2 = time.perf_counter()
    qs = generate(recs, vocab=v)
    t3 = time.perf_counter()
    print(f"parse {t1 - t0:.2f} s, vocabulary {t2 - t1:.2f} s, generate {t3 - t2:.2f} s")
    print(f"{len(v.df)} terms, {len(v.word)} with a query word; "
          f"frequent pool {len(v.pool(*FREQUENT_DF))}, rare pool {len(v.pool(*RARE_DF))}")
    print(f"{len(qs)} queries, digest {digest(qs)}")
    for kind in KINDS:
        ks = [q for q in qs if q.kind == kind]
        print(kind, [q.text for q in ks[:6]])
