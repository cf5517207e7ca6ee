"""How to spend two cores on the ONNX transformer: one session with 2 intra-op threads, or
batches side by side on one one-thread session (a Python thread each); spinning or not.

Run: python benchmarks/onnx_threads.py [--n 1024] [--rounds 2]

Embeds the same N papers (drawn at random from ../shared/data, `random.Random(13)`, so text
lengths are the corpus's) with each arrangement, alternating rounds so that a change of load
hits all of them; prints papers/s, CPU-s per paper, and the ratio to the first arrangement
(the product's default before this benchmark: 2 intra-op threads, no spinning). Checks that
every arrangement gives the same vectors (max |difference|).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus  # noqa: E402

from paperfeed.search.embed import OnnxEmbedder, paper_text  # noqa: E402


def intra_op(emb: OnnxEmbedder, threads: int, spin: bool) -> OnnxEmbedder:
    """`emb` with its session replaced by one of `threads` intra-op threads (the old way)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    cpu = ["CPUExecutionProvider"]
    emb._session = ort.InferenceSession(str(emb._model_file), opts, providers=cpu)
    emb._threads = 1  # batches in turn, from the calling thread
    return emb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    docs = load_corpus()
    docs = random.Random(13).sample(docs, args.n)
    texts = [paper_text(d.title, d.abstract) for d in docs]

    two = intra_op(OnnxEmbedder(), 2, spin=False)
    spin = intra_op(OnnxEmbedder(), 2, spin=True)
    lanes = OnnxEmbedder(threads=2)  # the product's arrangement
    arrangements = {
        "2 threads, no spin": lambda: two.embed(texts),
        "2 threads, spin": lambda: spin.embed(texts),
        "2 x 1 thread side by side": lambda: lanes.embed(texts),
    }
    two.embed(texts[:32])
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in arrangements}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, fn in arrangements.items():
            w, c = time.perf_counter(), time.process_time()
            vecs[name] = fn()
            results[name].append((time.perf_counter() - w, time.process_time() - c))
    base = None
    ref = vecs["2 threads, no spin"]
    for name, runs in results.items():
        wall = min(r[0] for r in runs)
        cpu = min(r[1] for r in runs)
        rate = args.n / wall
        base = base or rate
        diff = float(np.abs(vecs[name] - ref).max())
        print(
            f"{name:28s} {rate:6.1f} papers/s  {cpu / args.n * 1000:5.1f} CPU-ms/paper  "
            f"x{rate / base:.2f}  218k in {218_199 / rate / 60:5.1f} min  max|diff| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
