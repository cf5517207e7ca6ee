"""Offline benchmark of "for you": simulated readers from the real HF daily-papers corpus.

Readers (three constructions, each from a field of the corpus the models never see):
  author  - the papers of one author with 10..60 papers in the corpus
  topic   - the papers sharing one fine-grained HF keyword (`hf_ai_keywords`, 10..60 papers)
  org     - the papers one organisation put on the daily list (`organization`, 10..150);
            the corpus has no submitter field, and organisations are who submit them
For each reader 30% of the papers are hidden among the rest of the corpus; the rest are the
reader's saves. Every method ranks all papers the reader has not saved; we report Recall@20
and nDCG@20 of the hidden papers, mean over readers with a 95% bootstrap interval.

Methods: trending-only (popularity: upvotes), nearest neighbour (max cosine of the search
embedding to any saved paper), centroid (cosine to the mean), and ours
(paperfeed.recommend.model). The blend weights are chosen by grid search on two
constructions and scored on the third, for every choice of the held-out one; the weights
shipped in paperfeed are those tuned with `org` held out.

`--embedder static,onnx` runs the same protocol (same readers, same hidden papers, same
background samples) on each embedder's vectors - the shipped static model and the bundled
ONNX MiniLM transformer - and then compares them reader by reader. Vectors are cached under
.data/bench/recommend/ (PAPERFEED_BENCH_CACHE), keyed by the embedder's name and the corpus.

    nice -n 10 .venv/bin/python benchmarks/recommend.py [--readers 60] [--seed 0]
        [--embedder static|onnx|static,onnx]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import logging
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CACHE, DATA  # noqa: E402

from paperfeed.recommend.model import (  # noqa: E402
    WEIGHTS,
    Pool,
    Weights,
    features,
    term_counts,
    train,
)
from paperfeed.search.embed import paper_text  # noqa: E402
from paperfeed.search.indexer import make_embedder  # noqa: E402

log = logging.getLogger("recommend-bench")
K = 20
HIDE = 0.3
GRID = {
    "lr": [0.5, 1.0],
    "nn": [0.0, 0.25, 0.5],
    "kw": [0.0, 0.25, 0.5],
    "author": [0.0, 0.5, 1.0],
    "pop": [0.0, 0.1],
}
COMBOS = [Weights(*c) for c in itertools.product(*GRID.values())]


def load() -> list[dict]:
    path = DATA / "hf_daily_papers_2404589803_2024-2026.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def readers(recs: list[dict], n: int, seed: int) -> dict[str, list[list[int]]]:
    """Lists of corpus rows, one per simulated reader, per construction."""
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(recs):
        for a in set(r["authors"]):
            groups["author"][a].append(i)
        for k in {k.lower() for k in r.get("hf_ai_keywords") or []}:
            groups["topic"][k].append(i)
        if r.get("organization"):
            groups["org"][str(r["organization"])].append(i)
    sizes = {"author": (10, 60), "topic": (10, 60), "org": (10, 150)}
    rng = np.random.default_rng(seed)
    out: dict[str, list[list[int]]] = {}
    for kind, by in groups.items():
        lo, hi = sizes[kind]
        keys = sorted(k for k, rows in by.items() if lo <= len(rows) <= hi)
        chosen = rng.choice(len(keys), size=min(n, len(keys)), replace=False)
        out[kind] = [by[keys[i]] for i in sorted(chosen)]
    return out


def ndcg(ranked: np.ndarray, hidden: set[int]) -> tuple[float, float]:
    gains = [1.0 / np.log2(i + 2) for i, r in enumerate(ranked[:K]) if int(r) in hidden]
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(K, len(hidden))))
    hits = sum(1 for r in ranked[:K] if int(r) in hidden)
    return hits / len(hidden), (sum(gains) / ideal if ideal else 0.0)


def top(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    idx = np.argpartition(-scores, K)[:K] if len(scores) > K else np.arange(len(scores))
    return rows[idx[np.argsort(-scores[idx])]]


def boot(values: list[float], seed: int = 0) -> tuple[float, float, float]:
    v = np.asarray(values)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(2000, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def embed_corpus(recs: list[dict], name: str) -> np.ndarray:
    """The corpus's vectors by embedder `name`, cached by the embedder's full name (which
    says which weights and how many tokens) and the corpus's ids."""
    emb = make_embedder(name)
    ids = hashlib.sha1("\n".join(r["arxiv_id"] for r in recs).encode()).hexdigest()[:12]
    path = CACHE / "recommend" / (re.sub(r"[^A-Za-z0-9.-]+", "_", emb.name) + f"-{ids}.npy")
    if path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    texts = [paper_text(r["title"], r["abstract"]) for r in recs]
    vecs = np.vstack([emb.embed(texts[i : i + 1000]) for i in range(0, len(texts), 1000)])
    log.info("embedded %d papers (%s) in %.0fs", len(recs), emb.name, time.perf_counter() - t0)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs.astype(np.float32))
    return vecs


Base = dict[str, dict[str, list[tuple[float, float]]]]


def evaluate(
    recs: list[dict], vecs: np.ndarray, groups: dict[str, list[list[int]]], seed: int
) -> tuple[Base, dict[str, np.ndarray]]:
    """Per construction, per reader: (Recall@20, nDCG@20) of each baseline, and of every
    weight combination (`COMBOS`) as a (readers, combos, 2) array. The hidden papers and the
    background samples depend only on `seed`, so two embedders see the same readers."""
    pool = Pool.build(
        [r["arxiv_id"] for r in recs],
        vecs,
        [term_counts(r["title"], r["abstract"]) for r in recs],
        [list(r["authors"]) for r in recs],
        [int(r.get("upvotes") or 0) for r in recs],
    )
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed + 1)
    weight_matrix = np.array([[w.lr, w.nn, w.kw, w.author, w.pop] for w in COMBOS]).T
    base: Base = defaultdict(lambda: defaultdict(list))
    grid: dict[str, np.ndarray] = {}
    all_rows = np.arange(len(recs))
    for kind, members in groups.items():
        per = np.zeros((len(members), len(COMBOS), 2))
        for j, rows in enumerate(members):
            rows = list(rows)
            rng.shuffle(rows)
            n_hide = max(3, round(HIDE * len(rows)))
            hidden, kept = set(rows[:n_hide]), rows[n_hide:]
            keep = np.ones(len(recs), dtype=bool)
            keep[kept] = False
            cand = all_rows[keep]
            base[kind]["trending"].append(ndcg(top(pool.upvotes[cand], cand), hidden))
            sims = pool.vecs[cand] @ pool.vecs[kept].T
            base[kind]["nearest"].append(ndcg(top(sims.max(axis=1), cand), hidden))
            centroid = pool.vecs[kept].mean(axis=0)
            base[kind]["centroid"].append(ndcg(top(pool.vecs[cand] @ centroid, cand), hidden))
            model = train(pool, kept, seed=seed + j)
            scores = features(model, pool, cand).matrix() @ weight_matrix  # (n, combos)
            best = np.argpartition(-scores, K, axis=0)[:K]  # (K, combos), unordered
            for c in range(len(COMBOS)):
                col = best[:, c]
                per[j, c] = ndcg(cand[col[np.argsort(-scores[col, c])]], hidden)
        grid[kind] = per
        log.info("%s: %d readers (%.0fs)", kind, len(members), time.perf_counter() - t0)
    return base, grid


def held_out_choice(grid: dict[str, np.ndarray], held: str) -> int:
    """The weight combination tuned on the constructions other than `held`: the best mean
    log nDCG over them, so that it must work for each rather than excel on one."""
    tune = [k for k in sorted(grid) if k != held]
    obj = np.mean([np.log(grid[k][:, :, 1].mean(axis=0) + 0.01) for k in tune], axis=0)
    return int(np.argmax(obj))


def fmt(v: tuple[float, float, float], sign: str = "") -> str:
    return f"{v[0]:{sign}.3f} [{v[1]:{sign}.3f}, {v[2]:{sign}.3f}]"


def report(name: str, base: Base, grid: dict[str, np.ndarray]) -> None:
    probe = COMBOS.index(Weights(1.0, 0.0, 0.0, 0.0, 0.0))  # the regression alone
    shipped = COMBOS.index(WEIGHTS)
    print(f"\n### {name}\n")
    print("| held out | method | Recall@20 | nDCG@20 | tuned on |")
    print("|---|---|---|---|---|")
    for held in sorted(grid):
        tune = [k for k in sorted(grid) if k != held]
        best = held_out_choice(grid, held)
        for method in ("trending", "nearest", "centroid"):
            rec = boot([m[0] for m in base[held][method]])
            nd = boot([m[1] for m in base[held][method]])
            print(f"| {held} | {method} | {fmt(rec)} | {fmt(nd)} | - |")
        g = grid[held]
        print(
            f"| {held} | only lr | {g[:, probe, 0].mean():.3f} | {g[:, probe, 1].mean():.3f} | - |"
        )
        print(
            f"| {held} | shipped WEIGHTS | {g[:, shipped, 0].mean():.3f} "
            f"| {g[:, shipped, 1].mean():.3f} | - |"
        )
        rec, nd = boot(list(g[:, best, 0])), boot(list(g[:, best, 1]))
        diff = boot(list(g[:, best, 1] - np.array([m[1] for m in base[held]["nearest"]])))
        print(f"| {held} | ours {COMBOS[best]} | {fmt(rec)} | {fmt(nd)} | {'+'.join(tune)} |")
        print(f"| {held} | ours - nearest (nDCG@20) | | {fmt(diff, '+')} | |")


def compare(names: list[str], grids: list[dict[str, np.ndarray]]) -> None:
    """Reader by reader on each held-out construction: ours on the second embedder's vectors
    minus ours on the first's (each with its own held-out weights), and with the shipped
    weights on both."""
    (a, b), (ga, gb) = names, grids
    shipped = COMBOS.index(WEIGHTS)
    print(f"\n### {b} - {a}, paired by reader (nDCG@20)\n")
    print(f"| held out | ours {a} | ours {b} | {b} - {a} | same weights (shipped): {b} - {a} |")
    print("|---|---|---|---|---|")
    for held in sorted(ga):
        va = ga[held][:, held_out_choice(ga, held), 1]
        vb = gb[held][:, held_out_choice(gb, held), 1]
        same = gb[held][:, shipped, 1] - ga[held][:, shipped, 1]
        print(
            f"| {held} | {fmt(boot(list(va)))} | {fmt(boot(list(vb)))} "
            f"| {fmt(boot(list(vb - va)), '+')} | {fmt(boot(list(same)), '+')} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readers", type=int, default=60, help="readers per construction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--embedder",
        default="static",
        help="static, onnx (the bundled transformer), or both comma-separated (compared)",
    )
    args = ap.parse_args()
    names = [n.strip() for n in args.embedder.split(",") if n.strip()]
    if not 1 <= len(names) <= 2:
        ap.error("--embedder takes one embedder or two, comma-separated")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    recs = load()
    groups = readers(recs, args.readers, args.seed)
    grids = []
    print(
        f"corpus: {len(recs)} HF daily papers; readers per construction: "
        + ", ".join(f"{k} {len(groups[k])}" for k in sorted(groups))
        + f"; {int(HIDE * 100)}% hidden; 95% bootstrap intervals over readers"
    )
    for name in names:
        vecs = embed_corpus(recs, name)
        base, grid = evaluate(recs, vecs, groups, args.seed)
        report(name, base, grid)
        grids.append(grid)
    if len(names) == 2:
        compare(names, grids)
    print(f"\n{time.perf_counter() - t0:.0f}s in all")


if __name__ == "__main__":
    main()
