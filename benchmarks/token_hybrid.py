"""Two transformer settings compared through the shipped hybrid fusion, on the tuning sets only.

Run: python benchmarks/token_hybrid.py DIR_A EMBEDDER_A DIR_B EMBEDDER_B
e.g. python benchmarks/token_hybrid.py ev128 onnx:src/paperfeed/search/model/minilm:128 \
         ev96 onnx:src/paperfeed/search/model/minilm:96

Each DIR holds the same prefix of `eval_vectors.py`'s priority order (made with the same
--limit), embedded by its setting: every query target plus the keyword top-k candidates of
every query. Per tuning query (dev, dev_b, devpara, heldout_b; never a held-out set), both
settings rank the same papers: keyword top-k + the 100 nearest embedded papers, fused by the
shipped TRANSFORMER_FUSION (nothing is re-tuned). Printed: MRR@10 and Recall@10 among the
embedded papers per set and setting, and the paired difference B - A with a 95% bootstrap
interval. Papers outside the embedded prefix cannot intrude here, so this compares the
settings' cosines where the hybrid uses them (re-ranking keyword candidates, the gate's
meaning-only ranking among the pool); it is not a whole-corpus figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relevance_eval import DEV_SETS, collect, fmt, fused, rank_of, rr  # noqa: E402

from paperfeed.search.fusion import TRANSFORMER_FUSION  # noqa: E402

P = TRANSFORMER_FUSION
SHIPPED = f"{'softcov' if P.soft else 'gatecov'}:{P.weight:g}:{P.min_cover:g}:{P.cover:g}"


def per_query(vec_dir: Path, embedder: str) -> tuple[dict[str, dict[str, np.ndarray]], str]:
    args = argparse.Namespace(vec_dir=vec_dir, embedder=embedder, limit=0, final=False)
    data, depth, _, header = collect(args)
    out = {}
    for name, qs in data.items():
        hyb = [rr(rank_of(fused(q, SHIPPED, depth).rows, q.target)) for q in qs]
        mean = [rr(rank_of(q.dense_rows, q.target)) for q in qs]
        out[name] = {"hybrid": np.array(hyb), "meaning": np.array(mean)}
    return out, header


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir_a", type=Path)
    ap.add_argument("embedder_a")
    ap.add_argument("dir_b", type=Path)
    ap.add_argument("embedder_b")
    args = ap.parse_args()
    a, head_a = per_query(args.dir_a, args.embedder_a)
    b, head_b = per_query(args.dir_b, args.embedder_b)
    print(f"A: {head_a}\nB: {head_b}\nfusion: {SHIPPED} (shipped, fixed)\n")
    print("| queries | ranker | A MRR@10 | B MRR@10 | B - A [95% CI] | A R@10 | B R@10 |")
    print("|---|---|---|---|---|---|---|")
    names = [n for n in DEV_SETS if n in a]
    for name in [*names, "all tuning"]:
        for ranker in ("hybrid", "meaning"):
            if name == "all tuning":
                ra = np.concatenate([a[n][ranker] for n in names])
                rb = np.concatenate([b[n][ranker] for n in names])
            else:
                ra, rb = a[name][ranker], b[name][ranker]
            print(
                f"| {name} ({len(ra)}) | {ranker} | {ra.mean():.3f} | {rb.mean():.3f} | "
                f"{fmt(rb - ra)} | {(ra > 0).mean():.2f} | {(rb > 0).mean():.2f} |"
            )


if __name__ == "__main__":
    main()
