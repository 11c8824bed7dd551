"""The analyzer Gannet uses for a full_text_search field with {stemming: true,
remove_stopwords: false}, rebuilt from tantivy's parts:

    SimpleTokenizer        maximal runs of alphanumeric code points
    RemoveLongFilter(40)   drops tokens of 40 bytes or more (Gannet: longer than 39)
    LowerCaser
    Stemmer(English)       Snowball English, tantivy's rust-stemmers

tantivy's stemmer and the libstemmer Gannet links (Debian's libstemmer0d, Snowball 2.2)
are different versions of the English algorithm: Snowball 2 treats words that start with
"inter", "organ", "univers", "emerg", ... specially, so "international" is "intern" in
Gannet and "internat" in tantivy (in GCIDE, 88 terms and 0.08% of the tokens differ). For
exact comparisons `gannet_terms` stems the unstemmed tokens with the system libstemmer
(through ctypes), and tantivy indexes those terms pre-analyzed (PRE_TOKENIZER_NAME).

Gannet's BM25 parameters are k1 = 1.2, b = 0.75 with Lucene/tantivy fieldnorm
quantization, which are tantivy's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any, Callable

TOKENIZER_NAME = "gannet_en"  # the whole chain, tantivy's stemmer
PRE_TOKENIZER_NAME = "gannet_pre"  # whitespace only: for text already run through gannet_terms
K1 = 1.2
B = 0.75


def available() -> bool:
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def tantivy_analyzer() -> Any:
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def analyze(text: str) -> list[str]:
    """The terms of `text`, in order, with repeats."""
    return list(tantivy_analyzer().analyze(text))


@functools.lru_cache(maxsize=1)
def unstemmed_analyzer() -> Any:
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .build()
    )


@functools.lru_cache(maxsize=1)
def pre_analyzer() -> Any:
    import tantivy

    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def _find_libstemmer() -> str:
    for name in (ctypes.util.find_library("stemmer"), "libstemmer.so.0d",
                 "/usr/lib/x86_64-linux-gnu/libstemmer.so.0d"):
        if name:
            try:
                ctypes.CDLL(name)
                return name
            except OSError:
                pass
    return ""


def libstemmer_available() -> bool:
    return bool(_find_libstemmer())


@functools.lru_cache(maxsize=1)
def libstemmer_english() -> Callable[[str], str]:
    """The system libstemmer's English stemmer (the one Gannet links), memoized."""
    path = _find_libstemmer()
    if not path:
        raise RuntimeError("libstemmer not found (apt-get install libstemmer0d)")
    lib = ctypes.CDLL(path)
    lib.sb_stemmer_new.restype = ctypes.c_void_p
    lib.sb_stemmer_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.sb_stemmer_stem.restype = ctypes.POINTER(ctypes.c_char)
    lib.sb_stemmer_stem.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.sb_stemmer_length.restype = ctypes.c_int
    lib.sb_stemmer_length.argtypes = [ctypes.c_void_p]
    st = lib.sb_stemmer_new(b"english", b"UTF_8")
    if not st:
        raise RuntimeError("libstemmer has no English stemmer")
    cache: dict[str, str] = {}

    def stem(word: str) -> str:
        out = cache.get(word)
        if out is None:
            b = word.encode("utf-8")
            p = lib.sb_stemmer_stem(st, b, len(b))
            out = ctypes.string_at(p, lib.sb_stemmer_length(st)).decode("utf-8")
            cache[word] = out
        return out

    return stem


def gannet_terms(text: str) -> list[str]:
    """The terms of `text` as Gannet makes them: tantivy's tokens, stemmed by libstemmer."""
    stem = libstemmer_english()
    return [stem(t) for t in unstemmed_analyzer().analyze(text)]
