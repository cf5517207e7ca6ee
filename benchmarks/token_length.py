"""How many word pieces to embed per paper: dev relevance per CPU-second of the ONNX MiniLM.

Run: nice -n 10 python benchmarks/token_length.py [--tokens 64 128 256] [--distractors 2000]

Pool: the 100 dev targets plus `--distractors` papers drawn from the whole corpus with
``random.Random(13)``; every dev query is ranked against the pool by cosine (dense only), as
in model_compare.py; also the 50 dev paraphrases (benchmarks/eval/dev_paraphrase.tsv). Only
dev queries are used (the choice is made here). Cost: CPU
seconds (process time, summed over the ONNX Runtime threads) per paper embedded, same load
for every length; also the share of papers whose title + abstract is cut at each length.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DEV_QUERIES, load_corpus, load_queries  # noqa: E402
from model_compare import score  # noqa: E402

from paperfeed.search.embed import OnnxEmbedder, paper_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--distractors", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lengths-only", action="store_true", help="only the share of texts cut")
    args = ap.parse_args()
    queries = load_queries(DEV_QUERIES)
    para = load_queries(Path(__file__).resolve().parent / "eval" / "dev_paraphrase.tsv")
    docs = load_corpus()
    row_of = {d.arxiv_id: i for i, d in enumerate(docs)}
    targets = list(dict.fromkeys(row_of[t] for _, t in queries))
    others = [r for r in range(len(docs)) if r not in set(targets)]
    pool = targets + random.Random(13).sample(others, args.distractors)
    texts = [paper_text(docs[r].title, docs[r].abstract) for r in pool]
    pos = {docs[r].arxiv_id: i for i, r in enumerate(pool)}
    gold = [pos[t] for _, t in queries]
    print(f"pool: {len(pool)} papers ({len(targets)} dev targets), {len(queries)} dev queries")
    print(
        "| max tokens | texts cut | CPU s / paper | papers / CPU-s | dev MRR@10 | dev R@10 "
        "| dev paraphrase MRR@10 | R@10 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.tokens:
        emb = OnnxEmbedder(max_tokens=n, threads=args.threads)
        # word pieces before padding (the tokenizer pads a batch to its longest text)
        enc = emb._tokenizer.encode_batch(texts[:500])
        cut = sum(sum(e.attention_mask) >= n for e in enc) / len(enc)
        if args.lengths_only:
            print(f"| {n} | {cut:.0%} | | | | |")
            continue
        t = time.process_time()
        pv = emb.embed(texts)
        cost = (time.process_time() - t) / len(texts)
        qv = emb.embed([q for q, _ in queries])
        mrr, rec = score(qv, pv, gold)
        pq = emb.embed([q for q, _ in para])
        p_mrr, p_rec = score(pq, pv, [pos[t] for _, t in para])
        print(
            f"| {n} | {cut:.0%} | {cost:.4f} | {1 / cost:.0f} | {mrr:.3f} | {rec:.2f} "
            f"| {p_mrr:.3f} | {p_rec:.2f} |"
        )
        load = Path("/proc/loadavg").read_text().split()[0]
        print(f"  ({time.strftime('%H:%M:%S')}, load average {load})", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
