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

    nice -n 10 .venv/bin/python benchmarks/recommend.py [--readers 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA  # noqa: E402

from paperfeed.recommend.model import Pool, Weights, features, term_counts, train  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readers", type=int, default=60, help="readers per construction")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    recs = load()
    emb = make_embedder("static")
    vecs = np.vstack(
        [
            emb.embed([paper_text(r["title"], r["abstract"]) for r in recs[i : i + 1000]])
            for i in range(0, len(recs), 1000)
        ]
    )
    pool = Pool.build(
        [r["arxiv_id"] for r in recs],
        vecs,
        [term_counts(r["title"], r["abstract"]) for r in recs],
        [list(r["authors"]) for r in recs],
        [int(r.get("upvotes") or 0) for r in recs],
    )
    log.info(
        "corpus %d papers embedded (%s) in %.1fs", len(recs), emb.name, time.perf_counter() - t0
    )
    groups = readers(recs, args.readers, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    combos = [Weights(*c) for c in itertools.product(*GRID.values())]
    weight_matrix = np.array([[w.lr, w.nn, w.kw, w.author, w.pop] for w in combos]).T
    probes = {  # single features, for the record
        name: combos.index(Weights(*[1.0 if f == name else 0.0 for f in GRID])) for name in ("lr",)
    }
    # per construction, per reader: metrics of each baseline and of every weight combination
    base: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    grid: dict[str, np.ndarray] = {}
    all_rows = np.arange(len(recs))
    for kind, members in groups.items():
        per = np.zeros((len(members), len(combos), 2))
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
            model = train(pool, kept, seed=args.seed + j)
            scores = features(model, pool, cand).matrix() @ weight_matrix  # (n, combos)
            best = np.argpartition(-scores, K, axis=0)[:K]  # (K, combos), unordered
            for c in range(len(combos)):
                col = best[:, c]
                per[j, c] = ndcg(cand[col[np.argsort(-scores[col, c])]], hidden)
        grid[kind] = per
        log.info("%s: %d readers (%.0fs)", kind, len(members), time.perf_counter() - t0)
    kinds = sorted(groups)
    print(
        f"\ncorpus: {len(recs)} HF daily papers; readers per construction: "
        + ", ".join(f"{k} {len(groups[k])}" for k in kinds)
        + f"; {int(HIDE * 100)}% hidden; 95% bootstrap intervals over readers\n"
    )
    print("| held out | method | Recall@20 | nDCG@20 | tuned on |")
    print("|---|---|---|---|---|")
    for held in kinds:
        tune = [k for k in kinds if k != held]
        # tuning objective: mean log nDCG over the tuning constructions, so that a weight set
        # must work for each of them rather than excel on one
        obj = np.mean([np.log(grid[k][:, :, 1].mean(axis=0) + 0.01) for k in tune], axis=0)
        best = int(np.argmax(obj))
        for name in ("trending", "nearest", "centroid"):
            rec = boot([m[0] for m in base[held][name]])
            nd = boot([m[1] for m in base[held][name]])
            print(
                f"| {held} | {name} | {rec[0]:.3f} [{rec[1]:.3f}, {rec[2]:.3f}] "
                f"| {nd[0]:.3f} [{nd[1]:.3f}, {nd[2]:.3f}] | - |"
            )
        for name, c in probes.items():
            print(
                f"| {held} | only {name} | {grid[held][:, c, 0].mean():.3f} "
                f"| {grid[held][:, c, 1].mean():.3f} | - |"
            )
        rec = boot(list(grid[held][:, best, 0]))
        nd = boot(list(grid[held][:, best, 1]))
        diff = boot(list(grid[held][:, best, 1] - np.array([m[1] for m in base[held]["nearest"]])))
        print(
            f"| {held} | ours {combos[best]} | {rec[0]:.3f} [{rec[1]:.3f}, {rec[2]:.3f}] "
            f"| {nd[0]:.3f} [{nd[1]:.3f}, {nd[2]:.3f}] | {'+'.join(tune)} |"
        )
        print(
            f"| {held} | ours - nearest (nDCG@20) | | {diff[0]:+.3f} [{diff[1]:+.3f}, "
            f"{diff[2]:+.3f}] | |"
        )
    print(f"\n{time.perf_counter() - t0:.0f}s in all")


if __name__ == "__main__":
    main()
