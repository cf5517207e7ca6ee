"""ANN recall of the transformer's vector index against exact cosine, on real MiniLM vectors,
and what the static model's ANN adds to the dense candidates (issue #13: memory at 1M).

Run: python benchmarks/ann_recall.py DATA_DIR [--cache DIR]

DATA_DIR is a data directory whose `index/transformer/` holds a complete transformer store
(real vectors, e.g. the one a whole-corpus backfill leaves). It is only read: its files are
memory-mapped read-only or loaded into this process, nothing is written there.

Queries: every evaluation set (dev, dev paraphrase, the 20 and 150 held-out, paraphrase),
embedded by the store's model (the shipped ONNX all-MiniLM-L6-v2) and by the static model.
For each query, the exact top 10 / top 50 rows by transformer cosine over all stored vectors
are the reference, and each way of finding the dense candidates (what `dense_stage` asks of
the vector indexes: the `DENSE_CANDIDATES` = 50 nearest rows) is scored by

- ann_recall@10: share of the exact top 10 among the index's own 10 nearest (for the union
  of two indexes: the transformer index's 10),
- recall10@candidates: share of the exact top 10 among its candidates (the candidates are
  rescored by exact cosine, so this is the dense top 10's recall),
- recall@50: share of the exact top 50 among its candidates,
- meaning-only MRR@10 of the target papers, the candidates ranked by exact transformer
  cosine (the dense part of the hybrid; the keyword candidates are not included here).

Ways: the store's f16 HNSW (as shipped); an i8 HNSW built here from the same vectors (same
settings, metric cos); the f16 HNSW plus the static model's nearest 50 (the candidates before
the static HNSW was dropped from complete stores: the data directory's static HNSW when it has
one, else the exact static top 50, from static vectors computed here with the bundled static
model and cached under --cache, which the static HNSW approximates).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_queries  # noqa: E402
from eval_vectors import QUERY_SETS  # noqa: E402
from store_vectors import DONE, read_store  # noqa: E402

from paperfeed.search.embed import StaticEmbedder, make_transformer, paper_text  # noqa: E402
from paperfeed.search.native import Index  # noqa: E402

K = 50  # DENSE_CANDIDATES


def hnsw(dim: int, dtype: str, metric: str = "ip") -> Index:
    return Index(
        ndim=dim, metric=metric, dtype=dtype, connectivity=16, expansion_add=64, expansion_search=64
    )


def ann_top(index: Index, queries: np.ndarray, k: int, ok: np.ndarray) -> list[list[int]]:
    """k nearest keys per query, keys not done dropped (as `TransformerStore.top`: k + 8)."""
    out = []
    for q in queries:
        res = index.search(q, k + 8)
        out.append([int(r) for r in res.keys if ok[int(r)]][:k])
    return out


def static_vectors(db: Path, ids: list[str], cache: Path) -> tuple[np.ndarray, StaticEmbedder]:
    emb = StaticEmbedder()
    path = cache / f"static-{len(ids)}.f16.npy"
    if path.exists():
        return np.load(path, mmap_mode="r"), emb
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    text = {
        pid: paper_text(t, a) for pid, t, a in con.execute("SELECT id, title, abstract FROM papers")
    }
    out = np.zeros((len(ids), emb.dim), dtype=np.float16)
    t = time.perf_counter()
    for start in range(0, len(ids), 4096):
        chunk = ids[start : start + 4096]
        out[start : start + len(chunk)] = emb.embed([text.get(i, "") for i in chunk])
    print(f"static vectors: {len(ids)} in {time.perf_counter() - t:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out, emb


def static_from(data_dir: Path, ids: list[str], dim: int) -> np.ndarray:
    """The static vectors of `ids` from another data directory's index (zeros if missing)."""
    rows = {pid: r for r, pid in enumerate((data_dir / "index" / "rows.txt").read_text().split())}
    flat = data_dir / "index" / "vectors.f16"
    m = np.memmap(flat, dtype=np.float16, mode="r", shape=(flat.stat().st_size // (2 * dim), dim))
    out = np.zeros((len(ids), dim), dtype=np.float32)
    have = [(i, rows[pid]) for i, pid in enumerate(ids) if rows.get(pid, len(m)) < len(m)]
    idx = np.asarray([i for i, _ in have], dtype=np.int64)
    out[idx] = m[np.asarray([r for _, r in have], dtype=np.int64)]
    print(f"static vectors of {len(have)} papers from {data_dir}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ann_recall"))
    ap.add_argument(
        "--static-from",
        type=Path,
        default=None,
        help="a data directory whose static vectors (index/vectors.f16, rows.txt) cover these "
        "papers: read instead of embedding them again",
    )
    ap.add_argument(
        "--ef",
        default="64",
        help="expansion_search values to try on the shipped f16 index (comma-separated; "
        "the first is the one the static candidates are added to)",
    )
    ap.add_argument("--no-i8", action="store_true", help="skip building the i8 index")
    args = ap.parse_args()
    tdir = args.data_dir / "index" / "transformer"
    ids, f16, done, state = read_store(args.data_dir)
    n, dim = f16.shape
    ok = np.zeros(max(n, len(done)) + 1, dtype=bool)
    ok[: len(done)] = done == DONE
    ok[n:] = False
    matrix = np.asarray(f16, dtype=np.float32)
    matrix[~ok[:n]] = 0.0
    print(f"{int(ok.sum())} transformer vectors of {len(ids)} papers ({state['model']})")

    row_of = {pid: r for r, pid in enumerate(ids)}
    queries, targets, sets = [], [], []
    for name, path in QUERY_SETS.items():
        for q, target in load_queries(path):
            queries.append(q)
            targets.append(row_of.get(target, -1))
            sets.append(name)
    tokens = int(str(state["model"]).rsplit(":", 1)[-1])
    model = make_transformer("onnx", max_tokens=tokens)
    assert model is not None and model.name == state["model"], (model, state["model"])
    qt = np.stack([model.embed([q])[0] for q in queries]).astype(np.float32)
    sims = qt @ matrix.T
    exact = np.argsort(-sims, axis=1)[:, :K]
    print(f"{len(queries)} queries; exact scan done", flush=True)

    ways: dict[str, list[list[int]]] = {}
    info: dict[str, object] = {"queries": len(queries), "vectors": int(ok.sum())}
    shipped = Index.restore(str(tdir / "ann.usearch"))
    assert shipped is not None
    info["f16_hnsw_file_mib"] = round((tdir / "ann.usearch").stat().st_size / 2**20, 1)
    efs = [int(x) for x in args.ef.split(",")]
    for ef in efs:
        shipped.expansion_search = ef
        t = time.perf_counter()
        ways[f"f16 HNSW ef={ef}"] = ann_top(shipped, qt.astype(np.float16), K, ok)
        info[f"f16_ef{ef}_search_ms"] = round((time.perf_counter() - t) / len(queries) * 1000, 3)
    first = ways[f"f16 HNSW ef={efs[0]}"]

    rows = np.flatnonzero(ok[:n])
    i8 = hnsw(dim, "i8", "cos")
    if args.no_i8:
        rows = rows[:0]
    t = time.perf_counter()
    for start in range(0, len(rows), 20_000):
        block = rows[start : start + 20_000]
        i8.add(block.astype(np.uint64), matrix[block])
    info["i8_build_s"] = round(time.perf_counter() - t, 1)
    args.cache.mkdir(parents=True, exist_ok=True)
    i8.save(str(args.cache / "i8.usearch"))
    info["i8_hnsw_file_mib"] = round((args.cache / "i8.usearch").stat().st_size / 2**20, 1)
    t = time.perf_counter()
    if not args.no_i8:
        ways["i8 HNSW (cos) ef=64"] = ann_top(i8, qt, K, ok)
    info["i8_search_ms"] = round((time.perf_counter() - t) / len(queries) * 1000, 3)
    del i8

    semb = StaticEmbedder()
    own = args.data_dir / "index" / "ann.usearch"  # the data directory's static index, if any
    if own.exists():
        sidx = hnsw(semb.dim, "f16")
        sidx.load(str(own))
        print(f"static HNSW: {own} ({len(sidx)} vectors)", flush=True)
        qs = np.stack([semb.embed([q])[0] for q in queries]).astype(np.float16)
        static_near = [[int(r) for r in sidx.search(q, K).keys] for q in qs]
        label = f"f16 HNSW ef={efs[0]} + static HNSW top 50 (before)"
    else:  # no static index: the exact static top 50 (what a perfect static HNSW returns)
        if args.static_from:
            svec = static_from(args.static_from, ids, semb.dim)
        else:
            svec, semb = static_vectors(args.data_dir / "paperfeed.sqlite3", ids, args.cache)
        qs32 = np.stack([semb.embed([q])[0] for q in queries]).astype(np.float32)
        smat = np.asarray(svec, dtype=np.float32)
        static_near = [list(map(int, np.argsort(-(smat @ q))[:K])) for q in qs32]
        label = f"f16 HNSW ef={efs[0]} + exact static top 50 (before, at best)"
    ways[label] = [list(dict.fromkeys(a + b)) for a, b in zip(first, static_near, strict=True)]
    ways["exact (reference)"] = [list(map(int, e)) for e in exact]

    report: dict[str, object] = {"info": info}
    for way, cands in ways.items():
        r10, r10_50, r50, size = [], [], [], []
        rr: dict[str, list[float]] = {}
        for i, c in enumerate(cands):
            top10, top50 = set(exact[i, :10].tolist()), set(exact[i].tolist())
            r10.append(len(top10 & set(c[:10])) / 10)  # the index's own first 10
            r10_50.append(len(top10 & set(c)) / 10)  # = the top 10 after exact rescoring
            r50.append(len(top50 & set(c)) / K)
            size.append(len(c))
            best = sorted(c, key=lambda r, i=i: -sims[i, r])[:10]
            rank = best.index(targets[i]) + 1 if targets[i] in best else 0
            rr.setdefault(sets[i], []).append(1 / rank if rank else 0.0)
        report[way] = {
            "candidates": round(float(np.mean(size)), 1),
            "ann_recall@10": round(float(np.mean(r10)), 4),
            "recall10@candidates": round(float(np.mean(r10_50)), 4),
            "recall@50": round(float(np.mean(r50)), 4),
            "mrr@10": {s: round(float(np.mean(v)), 4) for s, v in rr.items()},
        }
        print(way, json.dumps(report[way]), flush=True)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
