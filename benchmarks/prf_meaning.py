"""Rocchio pseudo-relevance feedback for meaning alone, chosen on dev paraphrases only.

Run: python benchmarks/prf_meaning.py DUMP [--final]

DUMP is a `relevance_eval.py --dump` made with every paper embedded (it holds, per query,
the nearest papers of the Rocchio query q' = q + beta x mean(vectors of the k nearest),
renormalized, for each (k, beta) of `PRF_GRID`). The question: does feedback make meaning
find paraphrased papers (the case the keyword index cannot solve) among all 218k papers?
(k, beta), or none, is picked by 5-fold CV on devpara (MRR@10); `--final` also reports the
held-out `paraphrase` set, once. The hybrid never hands a query to meaning alone under the
shipped fusion (`soft`), so this measures the model's side only.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
# QueryData: the dump was pickled by relevance_eval.py run as __main__
from relevance_eval import PRF_GRID, QueryData, fmt, out_of_fold, rank_of, rr  # noqa: E402, F401


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dump", type=Path)
    ap.add_argument("--final", action="store_true", help="also report `paraphrase` (once)")
    args = ap.parse_args()
    with args.dump.open("rb") as fh:
        data, _, _, header = pickle.load(fh)
    print(header)
    grid = [None, *PRF_GRID]

    def rrs(name: str, kb: tuple[int, float] | None) -> np.ndarray:
        qs = data[name]
        assert all(q.prf is not None for q in qs), "a dump made with every paper embedded"
        return np.array(
            [
                rr(rank_of(q.dense_rows if kb is None else q.prf[kb][0], q.target))  # type: ignore[index]
                for q in qs
            ]
        )

    mat = np.stack([rrs("devpara", kb) for kb in grid])
    pick = grid[int(np.argmax(mat.mean(axis=1)))]
    print(
        "devpara in-sample MRR@10 by (k, beta): "
        + ", ".join(f"{kb} {v:.3f}" for kb, v in zip(grid, mat.mean(axis=1), strict=True))
    )
    groups = np.zeros(mat.shape[1], dtype=int)
    oof, hit = out_of_fold(mat, groups, [mat, (mat > 0) * 1.0])
    print(f"picked on devpara: {pick}\n")
    print("| queries | ranker | MRR@10 [95% CI] | Recall@10 [95% CI] |\n|---|---|---|---|")
    base = rrs("devpara", None)
    print(f"| devpara (50) | meaning | {fmt(base)} | {fmt((base > 0) * 1.0)} |")
    print(f"| devpara (50) | meaning + PRF, 5-fold CV | {fmt(oof)} | {fmt(hit)} |")
    if args.final:
        for kb, label in ((None, "meaning"), (pick, f"meaning + PRF {pick}")):
            v = rrs("paraphrase", kb)
            print(f"| paraphrase ({len(v)}) | {label} | {fmt(v)} | {fmt((v > 0) * 1.0)} |")


if __name__ == "__main__":
    main()
