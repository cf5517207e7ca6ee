"""Transformer backfill speed: papers/s of `paperfeed index --sync`'s transformer phase.

Run: nice -n 10 python benchmarks/backfill.py [--papers 3000] [--batch 0] [--tokens 128 256]
         [--random] [--keep DIR]

Loads the first N papers of ../shared/data into a fresh SQLite instance, builds the keyword
and static indexes, then times the transformer backfill (newest papers first, progress kept
on disk after every step) with ONNX Runtime on the CPU, and with torch on the GPU when torch
sees CUDA. The baseline, measured in the same process, is the bare embedder on a sample of
the same papers (one `embed` call: no store reads, no files, no lock); the ratio shows what
the backfill's machinery costs. Prints papers/s and the projected time for 218,199 papers.

Several `--tokens` are measured one after the other in the same process (compare them with
each other, not with another run's). `--random` draws the papers at random from the whole
corpus (`random.Random(13)`) instead of taking the first N, so that text lengths are those
of the corpus. Besides wall time the process's CPU seconds during the backfill are
printed: on a loaded machine papers/s is the load's, CPU seconds per paper less so, and
"2 cores" = CPU-s per paper x 218,199 / 2 is the time on two idle cores if both were kept
busy (optimistic on scaling, pessimistic in that CPU time inflates under contention).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus  # noqa: E402

from paperfeed.ingest import ingest_sources  # noqa: E402
from paperfeed.search import SearchService  # noqa: E402
from paperfeed.search.embed import cuda_available, paper_text  # noqa: E402
from paperfeed.settings import load_settings  # noqa: E402
from paperfeed.store.sqlite import SqliteStore  # noqa: E402

CORPUS = 218_199


def bench(kind: str, data: Path, batch: int, sample: int, tokens: int) -> dict[str, object]:
    settings = load_settings(
        data_dir=data, transformer=kind, transformer_batch=batch, transformer_tokens=tokens
    )
    store = SqliteStore(settings.sqlite_path)
    service = SearchService(store, settings, background=False)  # keyword + static vectors
    try:
        emb = service.transformer
        assert emb is not None, f"transformer {kind} is not available here"
        papers = store.get_papers(service.indexer.rowmap.ids[:sample])
        texts = [paper_text(p.paper.title, p.paper.abstract) for p in papers]
        emb.embed(texts[:16])  # warm up
        t = time.perf_counter()
        emb.embed(texts)
        raw = len(texts) / (time.perf_counter() - t)
        t, cpu = time.perf_counter(), cpu_seconds()
        n = service.sync_transformer()
        secs, cpu = time.perf_counter() - t, cpu_seconds() - cpu
        status = service.status()
        assert status.transformer is not None and status.transformer.pending == 0
    finally:
        service.close()
        store.close()
    return {
        "name": emb.name,
        "papers": n,
        "backfill_per_s": n / secs,
        "raw_per_s": raw,
        "cpu_per_paper": cpu / max(n, 1),
    }


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=0, help="PAPERFEED_TRANSFORMER_BATCH")
    ap.add_argument("--sample", type=int, default=256, help="papers for the bare baseline")
    ap.add_argument(
        "--tokens", type=int, nargs="+", default=[128], help="PAPERFEED_TRANSFORMER_TOKENS"
    )
    ap.add_argument("--random", action="store_true", help="a random sample of the corpus")
    ap.add_argument(
        "--keep",
        type=Path,
        help="build the data directories here and keep them (default: a temp dir)",
    )
    args = ap.parse_args()
    if args.random:
        docs = load_corpus()
        docs = random.Random(13).sample(docs, args.papers)
    else:
        docs = load_corpus(limit=args.papers)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        src = Path(tmp) / "papers.jsonl"
        with open(src, "w", encoding="utf-8") as fh:
            for d in docs:
                rec = {"arxiv_id": d.arxiv_id, "title": d.title, "abstract": d.abstract}
                fh.write(json.dumps(rec) + "\n")
        kinds = ["onnx"] + (["torch"] if cuda_available() else [])
        print(f"load average {os.getloadavg()}; {len(docs)} papers; cores {os.cpu_count()}")
        print(
            f"{'transformer':30s} {'backfill/s':>10s} {'bare/s':>8s} {'ratio':>6s} "
            f"{'218k in':>8s} {'CPU-s/paper':>11s} {'2 cores':>8s}"
        )
        for kind in kinds:
            for tokens in args.tokens:
                data = Path(tmp) / f"{kind}-{tokens}"
                settings = load_settings(data_dir=data)
                store = SqliteStore(settings.sqlite_path)
                ingest_sources(store, [str(src)])
                store.close()
                r = bench(kind, data, args.batch, args.sample, tokens)
                rate, raw = float(r["backfill_per_s"]), float(r["raw_per_s"])  # type: ignore[arg-type]
                cpu = float(r["cpu_per_paper"])  # type: ignore[arg-type]
                print(
                    f"{r['name']!s:30s} {rate:10.1f} {raw:8.1f} {rate / raw:6.2f} "
                    f"{CORPUS / rate / 60:6.0f} min {cpu:11.4f} {CORPUS * cpu / 2 / 60:4.0f} min",
                    flush=True,
                )
        if "torch" not in kinds:
            print("(no CUDA GPU seen by torch here: GPU backfill not measured)")
        print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
