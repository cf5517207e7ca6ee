"""Embedding throughput on this machine and agreement with the torch reference.

Run: python benchmarks/embed_speed.py [--n 512]
Embeds the first N papers of the shared corpus (title + abstract) with each backend and
prints papers/s, the projected time for 218k papers, and the mean cosine to torch MiniLM
at 256 tokens (where the backend shares its vector space).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CACHE, load_corpus  # noqa: E402

from paperfeed.search.embed import OnnxEmbedder, StaticEmbedder, TorchEmbedder, paper_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--onnx", default=str(CACHE / "onnx"))
    ap.add_argument("--static", nargs="*", default=[])
    ap.add_argument("--skip-torch", action="store_true")
    args = ap.parse_args()
    docs = load_corpus(limit=20000)[-args.n :]
    texts = [paper_text(d.title, d.abstract) for d in docs]
    backends = []
    if not args.skip_torch:
        backends += [
            ("torch-256", lambda: TorchEmbedder(max_tokens=256)),
            ("torch-128", lambda: TorchEmbedder(max_tokens=128)),
        ]
    for tokens in (128, 256, 64):
        backends.append(
            (f"onnx-int8-{tokens}", lambda t=tokens: OnnxEmbedder(Path(args.onnx), max_tokens=t))
        )
    for path in args.static:
        backends.append((f"static-{Path(path).name}", lambda p=path: StaticEmbedder(Path(p))))
    ref = None
    print(f"{'backend':28s} {'papers/s':>9s} {'218k in':>9s} {'cos vs torch-256':>16s}")
    for name, make in backends:
        emb = make()
        emb.embed(texts[:16])  # warm up
        t = time.perf_counter()
        vecs = emb.embed(texts)
        rate = len(texts) / (time.perf_counter() - t)
        if name == "torch-256":
            ref = vecs
        agree = (
            float(np.mean(np.sum(vecs * ref, axis=1)))
            if ref is not None and vecs.shape == ref.shape
            else float("nan")
        )
        print(f"{name:28s} {rate:9.1f} {218199 / rate / 60:8.1f}m {agree:16.3f}", flush=True)


if __name__ == "__main__":
    main()
