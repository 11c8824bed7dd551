"""The engines compared on GCIDE: Gannet (embedded), tantivy, Xapian, SQLite FTS5 and
PostgreSQL. Each indexes (id, word, text) records into a directory of its own and answers
a Query (queries.py) with its top k as [(id, score), ...], best first.

Only "text" is full-text indexed. A phrase query is a phrase filter plus BM25 over the
phrase's words where the engine can express that (Gannet: ContainsTokenSequence filter +
BM25; tantivy: a zero-score phrase clause that must match + a scored term per word;
Xapian: OP_FILTER of the OR query by the phrase); SQLite and PostgreSQL rank the phrase
match natively (bm25() of the phrase, ts_rank).

    e = TantivyEngine(workdir); e.index(records); e.search(query, 10); e.size_bytes()
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from analysis import (
    B,
    K1,
    PRE_TOKENIZER_NAME,
    TOKENIZER_NAME,
    analyze,
    gannet_terms,
    pre_analyzer,
    tantivy_analyzer,
)
from gcide import Record
from queries import Query

REPO = Path(__file__).resolve().parents[2]
Hit = tuple[int, float]


def dir_bytes(path: str | os.PathLike[str]) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


class Engine:
    name = "?"
    stores_text = False  # whether size_bytes includes a copy of the documents' text
    notes = ""

    def index(self, records: Sequence[Record]) -> None:
        raise NotImplementedError

    def search(self, q: Query, k: int = 10) -> list[Hit]:
        raise NotImplementedError

    def size_bytes(self) -> int:
        raise NotImplementedError

    def segments(self) -> Optional[int]:
        """How many segments a query searches (None: not segmented, or not known)."""
        return None

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- Gannet


def import_gannet() -> tuple[Optional[Any], str]:
    """(the gannet module with its compiled extension, "") or (None, why not). Looks on
    sys.path first, then in $GANNET_BUILD_DIR/python, then build/python of the repo."""
    if importlib.util.find_spec("gannet") is None:
        build = Path(os.environ.get("GANNET_BUILD_DIR") or REPO / "build")
        sys.path.insert(0, str(build / "python"))
    try:
        gannet = importlib.import_module("gannet")
        importlib.import_module("gannet._gannet")
    except ImportError as e:
        return None, f"cannot import gannet with its extension: {e}"
    return gannet, ""


GANNET_SCHEMA = {
    "text": {"type": "string", "full_text_search": {"stemming": True, "remove_stopwords": False}},
    "word": {"type": "string"},
}


def gannet_fts_support(gannet: Any, workdir: str) -> str:
    """"" when this Gannet build answers a BM25 query, else the error it gives."""
    db = gannet.open(os.path.join(workdir, "probe"))
    try:
        ns = db.namespace("probe")
        ns.write(upsert_rows=[{"id": 1, "text": "gannets dive", "word": "w"}], schema=GANNET_SCHEMA)
        ns.query(rank_by=["text", "BM25", "gannets"], top_k=1)
        return ""
    except gannet.GannetError as e:
        return f"{type(e).__name__}: {e}"
    finally:
        db.close()
        shutil.rmtree(os.path.join(workdir, "probe"), ignore_errors=True)


class GannetEngine(Engine):
    name = "Gannet"
    stores_text = True
    notes = "embedded; writes of 1,000 rows, then IndexNow; stores text and word"

    def __init__(self, workdir: str, gannet: Any, batch: int = 1000) -> None:
        self.gannet = gannet
        self.path = os.path.join(workdir, "gannet")
        self.db = gannet.open(self.path)
        self.ns = self.db.namespace("gcide")
        self.batch = batch

    def index(self, records: Sequence[Record]) -> None:
        for i in range(0, len(records), self.batch):
            rows = [{"id": r.id, "text": r.text, "word": r.word} for r in records[i : i + self.batch]]
            self.ns.write(upsert_rows=rows, schema=GANNET_SCHEMA if i == 0 else None)
        self.fold()

    def settle(self, quiet_s: float = 15.0, limit_s: float = 120.0) -> tuple[int, int, float]:
        """Waits for background maintenance to finish with the namespace: one segment, or
        the segment count unchanged for quiet_s (the idle time after which a small
        namespace's segments are merged, 2 s, plus the merge: about 6 s for GCIDE).
        (segments before, after, seconds waited)."""
        t0 = time.perf_counter()
        before = last = self.segments() or 0
        since = t0
        while time.perf_counter() - t0 < limit_s:
            time.sleep(0.2)
            now = self.segments() or 0
            if now != last:
                last, since = now, time.perf_counter()
            if now <= 1 or time.perf_counter() - since >= quiet_s:
                break
        return before, last, time.perf_counter() - t0

    def fold(self) -> None:
        """Folds the WAL into segments (IndexNow until nothing is left unindexed)."""
        for _ in range(100):
            if self.ns.metadata().unindexed_rows == 0:
                return
            self.db._t.index_now(self.ns.name)  # the extension's Database.index_now
        raise RuntimeError("Gannet still has unindexed rows after 100 IndexNow calls")

    @staticmethod
    def body(q: Query, k: int = 10) -> dict[str, Any]:
        """The query as Gannet's API takes it (ns.query's arguments, the HTTP body)."""
        out: dict[str, Any] = {"rank_by": ["text", "BM25", q.text], "top_k": k}
        if q.kind == "phrase":
            out["filters"] = ["text", "ContainsTokenSequence", q.text]
        return out

    def search(self, q: Query, k: int = 10) -> list[Hit]:
        res = self.ns.query(**self.body(q, k))
        return [(int(r.id), float(r.dist)) for r in res.rows]

    def segments(self) -> Optional[int]:
        count = self.ns.metadata().raw.get("gannet", {}).get("segment_count")
        return int(count) if count is not None else None

    def _live_segments(self) -> Optional[set[str]]:
        """The segment ids the manifest references (their names are plain strings in it),
        or None when that does not match the segment count Gannet reports."""
        try:
            with open(os.path.join(self.path, "ns", self.ns.name, "manifest"), "rb") as f:
                manifest = f.read()
            count = self.ns.metadata().raw.get("gannet", {}).get("segment_count")
        except (OSError, self.gannet.GannetError):
            return None
        live = {m.decode() for m in re.findall(rb"\d{20}-[0-9a-f]{12}", manifest)}
        return live if count == len(live) else None

    def size_breakdown(self) -> dict[str, int]:
        """Bytes by kind of object: "segments" (documents), "segments/*.fts" (the
        full-text index), other segment files by suffix, "deletes", "manifest", "wal",
        and "unreferenced" for objects of segments no manifest lists (an indexer that
        lost a race leaves them to garbage collection)."""
        live = self._live_segments()
        out: dict[str, int] = {}
        root = Path(self.path)
        for f in root.rglob("*"):
            if not f.is_file():
                continue
            parts = f.relative_to(root).parts  # ns/<ns>/segments/<id>[.ext], catalog/<ns>
            kind = parts[2] if parts[0] == "ns" and len(parts) >= 3 else parts[0]
            if kind in ("segments", "deletes") and len(parts) > 3:
                seg = parts[3].split(".", 1)[0]
                if live is not None and seg not in live:
                    kind = "unreferenced"
                elif kind == "segments" and "." in parts[3]:
                    kind += "/*" + f.suffix
            out[kind] = out.get(kind, 0) + f.stat().st_size
        return dict(sorted(out.items()))

    def size_bytes(self) -> int:
        """The segments the manifest lists, their indexes and deletion vectors, and the
        manifest: not the WAL nor unreferenced objects, which garbage collection deletes
        (after a grace period) once they are folded or lost."""
        return sum(v for k, v in self.size_breakdown().items()
                   if k not in ("wal", "unreferenced", "catalog", ".locks"))

    def close(self) -> None:
        self.db.close()


# --------------------------------------------------------------------------- tantivy


class TantivyEngine(Engine):
    """stemmer="tantivy": tantivy's own analyzer chain (its rust-stemmers English);
    "libstemmer": the text pre-analyzed by analysis.gannet_terms (Gannet's libstemmer),
    indexed through a whitespace tokenizer, so the terms are exactly Gannet's."""

    name = "tantivy"

    def __init__(self, workdir: str, heap_bytes: int = 256_000_000, threads: int = 0,
                 stemmer: str = "tantivy") -> None:
        import tantivy

        if stemmer not in ("tantivy", "libstemmer"):
            raise ValueError(f"stemmer must be 'tantivy' or 'libstemmer', not {stemmer!r}")
        self.t = tantivy
        self.pre = stemmer == "libstemmer"
        self.analyze: Callable[[str], list[str]] = gannet_terms if self.pre else analyze
        self.notes = ("simple + remove_long(40) + lowercase + "
                      + ("libstemmer English, pre-analyzed" if self.pre else "stemmer(en)")
                      + f", BM25 defaults; positions; text not stored; {threads or 'auto'} "
                      "indexing thread(s)")
        self.path = os.path.join(workdir, "tantivy")
        os.makedirs(self.path, exist_ok=True)
        tokenizer = PRE_TOKENIZER_NAME if self.pre else TOKENIZER_NAME
        sb = tantivy.SchemaBuilder()
        sb.add_unsigned_field("id", stored=False, indexed=False, fast=True)
        sb.add_text_field("text", stored=False, tokenizer_name=tokenizer, index_option="position")
        self.schema = sb.build()
        self.idx = tantivy.Index(self.schema, path=self.path, reuse=False)
        self.idx.register_tokenizer(tokenizer, pre_analyzer() if self.pre else tantivy_analyzer())
        self.heap_bytes = heap_bytes
        self.threads = threads
        self.searcher: Any = None

    def index(self, records: Sequence[Record]) -> None:
        w = self.idx.writer(heap_size=self.heap_bytes, num_threads=self.threads)
        Doc = self.t.Document
        for r in records:
            d = Doc()
            d.add_unsigned("id", r.id)  # Document(id=...) would make an i64
            d.add_text("text", " ".join(gannet_terms(r.text)) if self.pre else r.text)
            w.add_document(d)
        w.commit()
        w.wait_merging_threads()
        self.idx.reload()
        self.searcher = self.idx.searcher()

    def term(self, t: str) -> Any:
        return self.t.Query.term_query(self.schema, "text", t, index_option="freq")

    def query(self, q: Query) -> Any:
        """Should per distinct term; a phrase adds a Must PhraseQuery scoring 0."""
        tq = self.t.Query
        terms = self.analyze(q.text)
        should = [(self.t.Occur.Should, self.term(t)) for t in dict.fromkeys(terms)]
        if q.kind == "phrase":
            words: list[Any] = list(terms)
            phrase = tq.const_score_query(tq.phrase_query(self.schema, "text", words), 0.0)
            return tq.boolean_query([(self.t.Occur.Must, phrase)] + should)
        if len(should) == 1:
            return should[0][1]
        return tq.boolean_query(should)

    def search(self, q: Query, k: int = 10) -> list[Hit]:
        res = self.searcher.search(self.query(q), limit=k, count=False)
        return self.hits_with_ids(res.hits)

    def segments(self) -> Optional[int]:
        return int(self.searcher.num_segments)

    def hits_with_ids(self, hits: Sequence[Any]) -> list[Hit]:
        if not hits:
            return []
        ids = self.searcher.fast_field_values("id", [a for _, a in hits])
        return [(int(i), float(s)) for (s, _), i in zip(hits, ids)]

    def size_bytes(self) -> int:
        return dir_bytes(self.path)


# --------------------------------------------------------------------------- Xapian


def import_xapian() -> tuple[Optional[Any], str]:
    """Debian's python3-xapian is built for /usr/bin/python3; the same minor version of
    another CPython (pyenv's 3.11) loads it from Debian's dist-packages."""
    try:
        return importlib.import_module("xapian"), ""
    except ImportError:
        pass
    tag = f"python{sys.version_info.major}"
    deb = "/usr/lib/python3/dist-packages"
    if os.path.isdir(os.path.join(deb, "xapian")) and deb not in sys.path:
        sys.path.append(deb)
        try:
            return importlib.import_module("xapian"), ""
        except ImportError as e:
            return None, f"python3-xapian does not load in this {tag}: {e}"
    return None, "python3-xapian is not installed (apt-get install python3-xapian)"


class XapianEngine(Engine):
    name = "Xapian"
    notes = "TermGenerator STEM_ALL (english), BM25Weight(1.2, 0, 1, 0.75, 0.5); positions"

    def __init__(self, workdir: str, xapian: Any) -> None:
        self.x = xapian
        self.path = os.path.join(workdir, "xapian")
        self.db: Any = None

    def index(self, records: Sequence[Record]) -> None:
        x = self.x
        db = x.WritableDatabase(self.path, x.DB_CREATE_OR_OVERWRITE)
        tg = x.TermGenerator()
        tg.set_stemmer(x.Stem("english"))
        tg.set_stemming_strategy(x.TermGenerator.STEM_ALL)
        db.begin_transaction(False)
        for r in records:
            doc = x.Document()
            tg.set_document(doc)
            tg.index_text(r.text)
            db.replace_document(r.id, doc)
        db.commit_transaction()
        db.close()
        self.db = x.Database(self.path)
        self.enquire = x.Enquire(self.db)
        self.enquire.set_weighting_scheme(x.BM25Weight(K1, 0, 1, B, 0.5))
        self.qp = x.QueryParser()
        self.qp.set_stemmer(x.Stem("english"))
        self.qp.set_stemming_strategy(x.QueryParser.STEM_ALL)
        self.qp.set_default_op(x.Query.OP_OR)
        self.qp.set_database(self.db)

    def search(self, q: Query, k: int = 10) -> list[Hit]:
        x = self.x
        query = self.qp.parse_query(q.text, 0)
        if q.kind == "phrase":
            phrase = self.qp.parse_query(f'"{q.text}"', x.QueryParser.FLAG_PHRASE)
            query = x.Query(x.Query.OP_FILTER, query, phrase)
        self.enquire.set_query(query)
        return [(m.docid, m.weight) for m in self.enquire.get_mset(0, k)]

    def size_bytes(self) -> int:
        return dir_bytes(self.path)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


# --------------------------------------------------------------------------- SQLite FTS5


class SqliteEngine(Engine):
    name = "SQLite FTS5"
    stores_text = True
    notes = "tokenize='porter unicode61 remove_diacritics 0' (Porter 1), bm25(); optimized"

    def __init__(self, workdir: str) -> None:
        import sqlite3

        self.path = os.path.join(workdir, "fts5.db")
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(text, "
            "tokenize='porter unicode61 remove_diacritics 0')"
        )

    def index(self, records: Sequence[Record]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT INTO docs(rowid, text) VALUES (?, ?)", ((r.id, r.text) for r in records)
            )
            self.db.execute("INSERT INTO docs(docs) VALUES ('optimize')")

    def search(self, q: Query, k: int = 10) -> list[Hit]:
        words = q.text.split()
        match = '"' + q.text + '"' if q.kind == "phrase" else " OR ".join(f'"{w}"' for w in words)
        rows = self.db.execute(
            "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?",
            (match, k),
        ).fetchall()
        return [(int(i), -float(s)) for i, s in rows]

    def size_bytes(self) -> int:
        return os.path.getsize(self.path)

    def close(self) -> None:
        self.db.close()


# --------------------------------------------------------------------------- PostgreSQL


PG_BIN = "/usr/lib/postgresql/15/bin"


class PostgresEngine(Engine):
    """A throwaway PostgreSQL 15 cluster in `workdir`, on a Unix socket only (no TCP),
    run as the "postgres" user when this process is root. Raises RuntimeError (with the
    reason) when it cannot be started."""

    name = "PostgreSQL"
    stores_text = True
    notes = ("GIN on a stored tsvector, config english_stem without stopwords, ts_rank "
             "(not BM25), phraseto_tsquery for phrases")

    def __init__(self, workdir: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise RuntimeError("psycopg is not installed (pip install 'psycopg[binary]')")
        self.psycopg = psycopg
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            raise RuntimeError(f"{PG_BIN}/initdb not found (apt-get install postgresql)")
        self.dir = os.path.join(workdir, "pg")
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.port = 5432  # only names the socket file in self.dir
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise RuntimeError("running as root without runuser to drop to postgres")
            try:
                import pwd

                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no postgres user")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(workdir, 0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(["initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C"])
        opts = (f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' "
                f"-c port={self.port} -c shared_buffers=512MB -c maintenance_work_mem=1GB "
                "-c work_mem=64MB -c synchronous_commit=off -c max_parallel_maintenance_workers=0 "
                "-c max_parallel_workers_per_gather=0")
        self._run(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-o", opts,
                   "-w", "-t", "60", "start"])
        self.started = True
        self.conn = psycopg.connect(host=self.dir, port=self.port, user="postgres",
                                    dbname="postgres", autocommit=True)

    def _run(self, argv: list[str]) -> None:
        cmd = self.as_user + [os.path.join(PG_BIN, argv[0])] + argv[1:]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=self.dir)
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {(p.stderr or p.stdout).strip()[-500:]}")

    def index(self, records: Sequence[Record]) -> None:
        c = self.conn
        c.execute("CREATE TEXT SEARCH DICTIONARY english_nostop "
                  "(TEMPLATE = snowball, Language = english)")
        c.execute("CREATE TEXT SEARCH CONFIGURATION gannet_en (COPY = english)")
        c.execute("ALTER TEXT SEARCH CONFIGURATION gannet_en ALTER MAPPING FOR "
                  "asciiword, word, hword, hword_part, asciihword, hword_asciipart "
                  "WITH english_nostop")
        c.execute("CREATE TABLE docs (id bigint PRIMARY KEY, word text, text text, "
                  "tsv tsvector GENERATED ALWAYS AS (to_tsvector('gannet_en', text)) STORED)")
        with c.cursor() as cur:
            with cur.copy("COPY docs (id, word, text) FROM STDIN") as cp:
                for r in records:
                    cp.write_row((r.id, r.word, r.text))
        c.execute("CREATE INDEX docs_tsv ON docs USING gin (tsv)")
        c.execute("VACUUM ANALYZE docs")

    def search(self, q: Query, k: int = 10) -> list[Hit]:
        words = q.text.split()
        sep = " <-> " if q.kind == "phrase" else " | "
        rows = self.conn.execute(
            "SELECT id, ts_rank(tsv, q) AS s FROM docs, to_tsquery('gannet_en', %s) q "
            "WHERE tsv @@ q ORDER BY s DESC, id LIMIT %s",
            (sep.join(words), k),
        ).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def size_bytes(self) -> int:
        row = self.conn.execute("SELECT pg_total_relation_size('docs')").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass
        if getattr(self, "started", False):
            subprocess.run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.data,
                                           "-m", "fast", "-w", "stop"],
                           capture_output=True, cwd=self.dir)
