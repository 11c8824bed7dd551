"""GCIDE (Debian's dict-gcide) as (id, word, text) records for full-text benchmarks.

The dictd files are /usr/share/dictd/gcide.dict.dz (dictzip, readable as gzip) and
gcide.index (headword TAB base64 offset TAB base64 length, byte offsets into the
uncompressed data). Several headwords may point at one entry; each distinct entry is one
record, in data order, with id = 1, 2, ... (the 00-database-* entries are skipped, and so
is an entry left without any alphanumeric character).

- word: the entry's headword (the first line up to its pronunciation "\\...\\"), or for
  the few entries without one, the first index headword that points at it.
- text: the entry's body on one line: the leading headword and every "\\...\\"
  pronunciation removed, source tags such as "[1913 Webster]" removed, GCIDE's accent
  codes ("[e^]", "['e]", "[ae]") turned into plain letters, "{...}" cross-reference
  braces and the syllable marks inside words ("Gre*ga\"ri*ous") removed, whitespace
  collapsed.

Parsing takes a few seconds and is deterministic; nothing is cached.

    from gcide import load
    records = load()            # list[Record], about 126,000 of them
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from typing import Iterator, Optional

DICT_PATH = "/usr/share/dictd/gcide.dict.dz"
INDEX_PATH = "/usr/share/dictd/gcide.index"

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64)}


@dataclass(frozen=True)
class Record:
    id: int
    word: str
    text: str


def available() -> bool:
    """True when dict-gcide's files are installed."""
    return os.path.exists(DICT_PATH) and os.path.exists(INDEX_PATH)


def _b64_number(s: str) -> int:
    """dictd's positional base-64 number (not RFC 4648 base64 of bytes)."""
    n = 0
    for c in s:
        n = n * 64 + _B64_VALUE[c]
    return n


# Accent codes: a mark then 1-2 letters ("['e]", "[=a]", "[.a]", "[^o]") or letters
# then a mark ("[e^]", "[u^]", "[oo^]"); both become the bare letters.
_ACCENT = re.compile(r"\[(?:[=^~'`\".,*\-]([A-Za-z]{1,2})|([A-Za-z]{1,2})[\^~])\]")
# Named codes: ligatures and special letters become letters, symbols disappear.
_NAMED = {
    "ae": "ae", "AE": "AE", "oe": "oe", "OE": "OE", "imac": "i", "aum": "a", "asl": "a",
    "ng": "ng", "eth": "th", "th": "th", "udd": "u", "yogh": "y",
    "root": "", "add": "", "deg": "", "sect": "", "sec": "", "flat": "", "sharp": "",
    "bar": "", "?": "",
}
_NAMED_RE = re.compile(r"\[(" + "|".join(re.escape(k) for k in _NAMED) + r")\]")
# Source tags: "[1913 Webster]", "[WordNet 1.5 +PJC]", "[Century Dict. 1906]", ...
_SOURCE = re.compile(
    r"\[(?:[^\]\n]*(?:Webster|WordNet|PJC|Century Dict|RDH|RHUD)[^\]\n]*|AS|GG|RP|MI11)\]"
)
_PRON = re.compile(r"\\[^\\\n]*\\")  # "\Dil"u*ent\" (pronunciation / headword spelling)
_SYLLABLE = re.compile(r"(?<=[A-Za-z])[*\"`](?=[A-Za-z])")  # Gre*ga"ri*ous
_BRACES = re.compile(r"[{}]")
_SPACE = re.compile(r"\s+")
_ALNUM = re.compile(r"\w")


def _decode_codes(s: str) -> str:
    s = _ACCENT.sub(lambda m: m.group(1) or m.group(2), s)
    return _NAMED_RE.sub(lambda m: _NAMED[m.group(1)], s)


def clean_entry(raw: str, fallback_word: str) -> tuple[str, str]:
    """(word, text) of one raw dictd entry."""
    first_line = raw.split("\n", 1)[0]
    bs = first_line.find("\\")
    if bs > 0 and first_line.find("\\", bs + 1) > bs:
        word = first_line[:bs].strip()
        body = raw[bs:]
    else:
        word = fallback_word
        body = raw
    body = _SOURCE.sub(" ", body)
    body = _PRON.sub(" ", body)
    body = _decode_codes(body)
    body = _BRACES.sub("", body)
    body = _SYLLABLE.sub("", body)
    body = _SPACE.sub(" ", body).strip()
    # The first-line remainder starts with the comma after the pronunciation.
    body = body.lstrip(", ").strip()
    word = _SPACE.sub(" ", _decode_codes(word)).strip() or fallback_word
    return word, body


def _decode(raw: bytes) -> str:
    # The data is ASCII apart from a handful of stray Windows-1252 bytes.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def iter_records(
    dict_path: str = DICT_PATH, index_path: str = INDEX_PATH, limit: Optional[int] = None
) -> Iterator[Record]:
    """The records in data order (ids 1, 2, ...); `limit` stops after that many."""
    first_name: dict[tuple[int, int], str] = {}
    names_ok: dict[tuple[int, int], bool] = {}
    with open(index_path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            key = (_b64_number(parts[1]), _b64_number(parts[2]))
            first_name.setdefault(key, parts[0])
            # An entry reachable only through 00-* names is dictd metadata.
            names_ok[key] = names_ok.get(key, False) or not parts[0].startswith("00-")
    with gzip.open(dict_path, "rb") as f:
        data = f.read()
    next_id = 1
    for key in sorted(first_name):
        if not names_ok[key]:
            continue
        off, size = key
        word, text = clean_entry(_decode(data[off : off + size]), first_name[key])
        if not _ALNUM.search(text):
            continue
        yield Record(next_id, word, text)
        next_id += 1
        if limit is not None and next_id > limit:
            return


def load(limit: Optional[int] = None) -> list[Record]:
    """Every record (or the first `limit`), parsed afresh."""
    return list(iter_records(limit=limit))


if __name__ == "__main__":
    import sys
    import time

    t0 = time.perf_counter()
    recs = load()
    dt = time.perf_counter() - t0
    chars = sum(len(r.text) for r in recs)
    print(f"{len(recs)} records, {chars} characters of text, parsed in {dt:.2f} s")
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for r in recs[:: max(1, len(recs) // samples)] if samples > 0 else []:
        print(f"{r.id}\t{r.word}\t{r.text[:300]}")
