"""Index build time, query latency and memory of the search service, with baselines.

Run: python benchmarks/search_latency.py --papers 218199            (the whole shared corpus)
     python benchmarks/search_latency.py --papers 1000000           (real corpus + synthetic)
     python benchmarks/search_latency.py --papers 218199 --transformer   (+ transformer store)

Builds a real data directory (SQLite store + search indexes) under .data/bench/svc-<N>, in a
child process that reports ingest, keyword-index and embedding times; then, in a fresh
process, opens `SearchService` and times `search()` on the dev queries (each 3 times, after
a warm-up). Beyond the real 218,199 papers, papers are synthesised from real ones (title of
one + sentences of others, fresh ids): fine for speed, meaningless for relevance.
Baselines in the same run: SQLite FTS5 (porter, OR query, bm25 order, top 100) over the
same texts, and a brute-force exact cosine scan over all vectors.

Every timed `search()` starts with the service's result cache cleared (the cache would
answer a repeated query without ranking it).

`--transformer` (data directory `svc-<N>-transformer`): the directory also holds a complete
transformer store, as after the backfill: every paper has a vector in `index/transformer/`
(`vectors.f16`, its HNSW `ann.usearch`, done flags, state), written through the real
backfill code (`Indexer.sync_transformer`) with `memory.RandomUnitEmbedder`, random unit
vectors under the real model's name and size (384): embedding 218k abstracts with MiniLM
takes about an hour of both cores, 1M several. Valid for speed and memory only (rankings
from these vectors mean nothing). Queries then embed the query text with the real ONNX
model (`PAPERFEED_TRANSFORMER=onnx`, the shipped int8 all-MiniLM-L6-v2, default tokens) and
search the transformer's vector index (the static model's HNSW is neither loaded nor
searched once at most `EXACT_BELOW` papers wait for a transformer vector: see
`paperfeed.search.dense`; `static_ann_loaded` in the output says whether it was); the query
embedding alone is timed too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CACHE, Doc, load_corpus, load_queries  # noqa: E402


def synthetic(docs: list[Doc], n: int, seed: int = 7) -> list[Doc]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b, c = rng.sample(docs, 3)
        sents = b.abstract.split(". ") + c.abstract.split(". ")
        rng.shuffle(sents)
        out.append(Doc(f"syn.{i:07d}", a.title, ". ".join(sents[: max(3, len(sents) // 2)])))
    return out


TRANSFORMER_STEP = 2048  # papers per backfill step while filling with random vectors


def bench_settings(data_dir: Path, transformer: bool):  # type: ignore[no-untyped-def]
    from paperfeed.settings import load_settings

    if not transformer:
        return load_settings(data_dir=data_dir)
    return load_settings(data_dir=data_dir, transformer="onnx", transformer_batch=TRANSFORMER_STEP)


def build(data_dir: Path, n: int, transformer: bool = False) -> None:
    from paperfeed.models import Paper
    from paperfeed.search import SearchService
    from paperfeed.store.sqlite import SqliteStore

    settings = bench_settings(data_dir, transformer)
    store = SqliteStore(settings.sqlite_path)
    timings: dict[str, float] = {}
    if store.stats().papers < n:
        docs = load_corpus()
        docs = docs[:n] + synthetic(docs, max(0, n - len(docs)))
        t = time.perf_counter()
        for start in range(0, len(docs), 5000):
            store.upsert_papers(
                Paper(id=d.arxiv_id, title=d.title, abstract=d.abstract)
                for d in docs[start : start + 5000]
            )
        timings["store_upsert_s"] = time.perf_counter() - t
    service = SearchService(store, settings, background=False, repair=False)
    t = time.perf_counter()
    service.sync_keyword()
    timings["keyword_index_s"] = time.perf_counter() - t
    t = time.perf_counter()
    n_vec = service.sync_vectors(batch=2048)
    timings["embed_and_ann_s"] = time.perf_counter() - t
    timings["embedded"] = n_vec
    timings["embedder"] = service.embedder.name  # type: ignore[assignment]
    if transformer:
        from memory import RandomUnitEmbedder

        from paperfeed.search.embed import make_transformer

        ix = service.indexer
        real = make_transformer("onnx", max_tokens=settings.transformer_tokens)
        assert real is not None
        # the real model's name and size, random unit vectors (see the module docstring)
        ix._transformer = RandomUnitEmbedder(real.name, real.dim)  # type: ignore[assignment]
        del real
        t = time.perf_counter()
        timings["transformer_filled_now"] = service.sync_transformer()
        timings["transformer_fill_s"] = time.perf_counter() - t
        ts = ix.tstore
        assert ts is not None
        timings["transformer_vectors"] = ts.filled()
        timings["transformer_model"] = ts.state.model  # type: ignore[assignment]
    service.close()
    print(json.dumps(timings))


def rss_mib(field: str = "VmRSS") -> float:
    """VmRSS (or RssAnon: private memory; RssFile: pages of mapped files) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values) * 1000, p))


def fts5_baseline(data_dir: Path, store_path: Path, queries: list[str]) -> list[float]:
    """FTS5 over the same titles and abstracts (a separate file; benchmark-only SQL)."""
    path = data_dir / "fts5_baseline.sqlite3"
    db = sqlite3.connect(path)
    if not db.execute("SELECT name FROM sqlite_master WHERE name='fts'").fetchone():
        db.execute(
            "CREATE VIRTUAL TABLE fts USING fts5(id UNINDEXED, title, abstract, "
            "tokenize='porter unicode61')"
        )
        src = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
        db.executemany(
            "INSERT INTO fts VALUES (?,?,?)", src.execute("SELECT id, title, abstract FROM papers")
        )
        db.commit()
    times = []
    for q in queries:
        words = [w for w in "".join(ch if ch.isalnum() else " " for ch in q).split()]
        match = " OR ".join(f'"{w}"' for w in words)
        t = time.perf_counter()
        db.execute(
            "SELECT id FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, 2.0, 1.0) LIMIT 100", (match,)
        ).fetchall()
        times.append(time.perf_counter() - t)
    return times


def measure(data_dir: Path, transformer: bool = False, fts5: bool = True) -> dict[str, object]:
    from paperfeed.search import SearchService
    from paperfeed.store.sqlite import SqliteStore

    settings = bench_settings(data_dir, transformer)
    store = SqliteStore(settings.sqlite_path)
    t = time.perf_counter()
    service = SearchService(store, settings, background=False)
    open_s = time.perf_counter() - t
    queries = [q for q, _ in load_queries()]
    breakdown: dict[str, object] = {}
    if transformer:  # what each part adds to the RSS, loaded one by one before any query
        ix, r0 = service.indexer, rss_mib()
        ix.keyword  # noqa: B018
        ix.vectors  # noqa: B018
        r1 = rss_mib()
        model = ix.transformer
        assert model is not None
        model.embed(["warm up", "both sessions"])
        model.embed(["warm up one session"])
        r2 = rss_mib()
        tstore = ix.tstore
        assert tstore is not None
        tstore.vectors  # noqa: B018 (loads the transformer's HNSW file)
        tstore.done_flags()
        r3 = rss_mib()
        breakdown = {
            "rss_mib_opened": round(r0, 1),
            "rss_mib_keyword_static": round(r1 - r0, 1),
            "rss_mib_onnx_model": round(r2 - r1, 1),
            "rss_mib_transformer_store": round(r3 - r2, 1),
            "transformer_ann_file_mib": round(tstore.vectors.ann_path.stat().st_size / 2**20, 1),
        }
    for q in queries[:20]:
        service.search(q, limit=10)
    runs = queries * 3
    emb = service.transformer if transformer else None
    full, bare = [], []
    for q in runs:
        service.cache.clear()  # rank every time: a cached ranking skips the whole pipeline
        t = time.perf_counter()
        service.search(q, limit=10)
        full.append(time.perf_counter() - t)
        service.cache.clear()
        t = time.perf_counter()
        service.search(q, limit=10, with_papers=False)
        bare.append(time.perf_counter() - t)
    cached = []
    for q in queries:
        service.search(q, limit=10)  # fills the result cache
    for q in queries:  # the same queries again, answered from the result cache
        t = time.perf_counter()
        service.search(q, limit=10)
        cached.append(time.perf_counter() - t)
    rss, rss_anon, rss_file = rss_mib(), rss_mib("RssAnon"), rss_mib("RssFile")  # at once
    # with the transformer store complete the static model's HNSW is not needed (dense.py);
    # (code before that change has no such attribute: it always loaded the index)
    static_ann_loaded = getattr(service.indexer.vectors, "ann_loaded", True)
    extra: dict[str, object] = {}
    ts = service.indexer.query_transformer()
    if transformer:
        assert ts is not None, "the transformer store is empty: build with --transformer"
        assert emb is not None
        q_embed = []
        for q in runs:
            t = time.perf_counter()
            emb.embed([q])
            q_embed.append(time.perf_counter() - t)
        extra = {
            "transformer": emb.name,
            "transformer_vectors": ts.filled(),
            "query_embed_p50_ms": pct(q_embed, 50),
            "query_embed_p95_ms": pct(q_embed, 95),
        }
    s_embed = []
    for q in runs:
        t = time.perf_counter()
        service.embedder.embed([q])
        s_embed.append(time.perf_counter() - t)
    # brute force: exact cosine against every stored vector, same query vectors
    matrix = np.asarray(service.indexer.vectors.matrix(), dtype=np.float32)  # fair: no f16 maths
    brute = []
    for q in queries:
        t = time.perf_counter()
        qv = service.embedder.embed([q])[0]
        sims = matrix @ qv
        np.argpartition(-sims, 100)[:100]
        brute.append(time.perf_counter() - t)
    del matrix
    # (its first run builds an FTS5 table of every paper: minutes at 1M)
    fts = fts5_baseline(data_dir, settings.sqlite_path, queries) if fts5 else [float("nan")]
    status = service.status()
    res = {
        "papers": status.papers_indexed,
        "vectors": status.vectors,
        **extra,
        "open_s": round(open_s, 2),
        "hybrid_p50_ms": pct(full, 50),
        "hybrid_p95_ms": pct(full, 95),
        "hybrid_p99_ms": pct(full, 99),
        "hybrid_no_fetch_p50_ms": pct(bare, 50),
        "hybrid_no_fetch_p95_ms": pct(bare, 95),
        "cached_p50_ms": pct(cached, 50),
        "cached_p95_ms": pct(cached, 95),
        "static_query_embed_p95_ms": pct(s_embed, 95),
        "fts5_p50_ms": pct(fts, 50),
        "fts5_p95_ms": pct(fts, 95),
        "brute_dense_p50_ms": pct(brute, 50),
        "brute_dense_p95_ms": pct(brute, 95),
        "rss_mib_after_queries": round(rss, 1),
        "rss_anon_mib": round(rss_anon, 1),
        "rss_file_mib": round(rss_file, 1),
        "static_ann_loaded": static_ann_loaded,
        **breakdown,
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    res["fts5_p95_over_hybrid_p95"] = res["fts5_p95_ms"] / res["hybrid_p95_ms"]  # type: ignore[operator]
    res["brute_p95_over_hybrid_p95"] = res["brute_dense_p95_ms"] / res["hybrid_p95_ms"]  # type: ignore[operator]
    service.close()
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=218199)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--measure-only", action="store_true", help="the data dir is built")
    ap.add_argument(
        "--transformer",
        action="store_true",
        help="also fill the transformer store (random unit vectors: speed and memory only) "
        "and embed queries with the real ONNX model",
    )
    ap.add_argument("--no-fts5", action="store_true", help="skip the SQLite FTS5 baseline")
    args = ap.parse_args()
    suffix = "-transformer" if args.transformer else ""
    data_dir = args.data_dir or CACHE / f"svc-{args.papers}{suffix}"
    data_dir.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        build(data_dir, args.papers, args.transformer)
        return
    if args.measure_only:
        print("load average before:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
        print("measure:", json.dumps(measure(data_dir, args.transformer, not args.no_fts5)))
        return
    t = time.perf_counter()
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--papers",
            str(args.papers),
            "--data-dir",
            str(data_dir),
            "--build-only",
            *(["--transformer"] if args.transformer else []),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    if child.returncode:
        sys.exit(child.stderr)
    print(
        "build:", child.stdout.strip().splitlines()[-1], f"(total {time.perf_counter() - t:.0f}s)"
    )
    print("load average before:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("measure:", json.dumps(measure(data_dir, args.transformer, not args.no_fts5)))


if __name__ == "__main__":
    main()
