"""Compare ONNX exports of one model: papers/s and agreement with its fp32 export.

Run: python benchmarks/onnx_models.py FP32_DIR [--n 512] MODEL_DIR...

Each DIR holds ``model.int8.onnx`` or ``model.onnx`` plus ``tokenizer.json``, as
``export_onnx.py`` writes them (FP32_DIR: a directory with only the fp32 ``model.onnx``).
Embeds N papers drawn at random from ../shared/data (``random.Random(13)``) with each model,
2 lanes as the product runs it, best of 2 rounds; prints papers/s and the mean and minimum
cosine between each model's vectors and the fp32 ones (same papers, same 128 word pieces).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus  # noqa: E402

from paperfeed.search.embed import OnnxEmbedder, paper_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32", type=Path)
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--n", type=int, default=512)
    args = ap.parse_args()
    docs = random.Random(13).sample(load_corpus(), args.n)
    texts = [paper_text(d.title, d.abstract) for d in docs]
    ref = OnnxEmbedder(args.fp32, threads=2).embed(texts)
    for path in args.models:
        emb = OnnxEmbedder(path, threads=2)
        emb.embed(texts[:32])  # warm up
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            vecs = emb.embed(texts)
            best = min(best, time.perf_counter() - t)
        cos = (vecs * ref).sum(axis=1)
        print(
            f"{path}: {len(texts) / best:.1f} papers/s, cosine to fp32 "
            f"mean {cos.mean():.4f} min {cos.min():.4f}"
        )


if __name__ == "__main__":
    main()
