"""Embed the evaluation corpus once, in a fixed priority order, resumably (for relevance_eval.py).

Run: python benchmarks/eval_vectors.py OUT_DIR [--embedder onnx:DIR:256] [--limit N]

Order (deterministic): (1) the targets of every query set (dev, the 50 dev paraphrases, the 20
old held-out, the 150 held-out, the 50 paraphrase, dev_b and heldout_b; a directory made
before the B sets existed does not match this order: make a new one), (2) the papers in the
keyword top-10 of any of those queries, then the top-20, top-30, top-50 and top-100 (what
hybrid fusion scores), (3) all other papers of the corpus in ``random.Random(13)`` order, as
distractors. A prefix of this order is therefore "all targets + all keyword top-k candidates +
the first K random distractors"; `relevance_eval.py` reports k and K. Vectors go to
OUT_DIR/ids.txt and OUT_DIR/vecs-*.npy (1,024 rows each, float32); a killed run resumes where
it stopped.
Progress and papers/s are logged. --start lets a second process take a later part.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DEV_QUERIES, load_corpus, load_queries  # noqa: E402
from relevance import keyword_index, make_embedder  # noqa: E402

from paperfeed.search.embed import OnnxEmbedder, paper_text  # noqa: E402
from paperfeed.search.keyword import parse_query  # noqa: E402

HERE = Path(__file__).resolve().parent
QUERY_SETS = {
    "dev": DEV_QUERIES,
    "devpara": HERE / "eval" / "dev_paraphrase.tsv",
    "heldout20": HERE / "heldout_queries.tsv",
    "heldout150": HERE / "eval" / "heldout150.tsv",
    "paraphrase": HERE / "eval" / "paraphrase.tsv",
    "dev_b": HERE / "eval" / "dev_b.tsv",
    "heldout_b": HERE / "eval" / "heldout_b.tsv",
    "heldout_c": HERE / "eval" / "heldout_c.tsv",
}
CHUNK = 1024
TIERS = (10, 20, 30, 50, 100)
log = logging.getLogger("eval_vectors")


def priority_order(docs, idx) -> tuple[list[int], int, int]:  # type: ignore[no-untyped-def]
    """Rows in embedding order, and how many are targets / targets + candidates."""
    row_of = {d.arxiv_id: i for i, d in enumerate(docs)}
    order: dict[int, None] = {}
    queries = [q for path in QUERY_SETS.values() for q in load_queries(path)]
    for _, target in queries:
        order[row_of[target]] = None
    n_targets = len(order)
    ranked = [idx.search(parse_query(q), limit=100).rows for q, _ in queries]
    for depth in TIERS:
        for rows in ranked:
            for r in rows[:depth]:
                order.setdefault(int(r), None)
    n_cand = len(order)
    rest = list(range(len(docs)))
    random.Random(13).shuffle(rest)
    for r in rest:
        order.setdefault(r, None)
    return list(order), n_targets, n_cand


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--embedder", default="onnx:src/paperfeed/search/model/minilm:256")
    ap.add_argument("--limit", type=int, default=0, help="stop after this many rows in all")
    ap.add_argument("--start", type=int, default=0, help="begin at this position of the order")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: all cores)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    docs = load_corpus()
    order, n_targets, n_cand = priority_order(docs, keyword_index(docs))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "order.txt").write_text(
        f"{n_targets} {n_cand}\n" + "\n".join(docs[r].arxiv_id for r in order) + "\n"
    )
    ids_path = args.out / "ids.txt"
    done = ids_path.read_text().split() if ids_path.exists() else []
    if done != [docs[r].arxiv_id for r in order[args.start : args.start + len(done)]]:
        raise SystemExit(f"{ids_path} does not match the priority order: remove {args.out}")
    emb = make_embedder(args.embedder)
    if isinstance(emb, OnnxEmbedder) and args.threads:
        emb = OnnxEmbedder(emb.path, max_tokens=emb.max_tokens, threads=args.threads)
    stop = min(len(order), args.limit or len(order))
    log.info(
        "%s: %d targets, %d with keyword candidates, %d done, embedding up to %d",
        emb.name,
        n_targets,
        n_cand,
        len(done),
        stop,
    )
    t0, start = time.perf_counter(), args.start + len(done)
    pos = start
    while pos < stop:
        rows = order[pos : min(pos + CHUNK, stop)]
        vecs = emb.embed([paper_text(docs[r].title, docs[r].abstract) for r in rows])
        np.save(args.out / f"vecs-{pos:07d}.npy", vecs.astype(np.float32))
        with ids_path.open("a") as fh:
            fh.write("".join(docs[r].arxiv_id + "\n" for r in rows))
        pos += len(rows)
        rate = (pos - start) / (time.perf_counter() - t0)
        log.info(
            "%d / %d embedded (%.1f papers/s, ETA %.0f min)",
            pos,
            stop,
            rate,
            (stop - pos) / rate / 60,
        )


if __name__ == "__main__":
    main()
