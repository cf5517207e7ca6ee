"""Where an uncached search's time goes: cProfile over `SearchService.search`.

Run: python benchmarks/search_profile.py --data-dir DIR [--rounds 2] [--top 45]

DIR is a data directory built by `search_latency.py --transformer --build-only` (or kept by
`backfill.py --keep`). Opens the service as `search_latency.py --measure-only` does, warms it
with 20 dev queries, times the 100 dev queries x `rounds` without the profiler (result cache
cleared before each), then again under cProfile, and prints the functions by cumulative and
by own time. Per-query figures: divide a function's time by queries x rounds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_queries  # noqa: E402
from search_latency import bench_settings  # noqa: E402

from paperfeed.search import SearchService  # noqa: E402
from paperfeed.store.sqlite import SqliteStore  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--top", type=int, default=45)
    args = ap.parse_args()
    settings = bench_settings(args.data_dir, True)
    store = SqliteStore(settings.sqlite_path)
    service = SearchService(store, settings, background=False)
    queries = [q for q, _ in load_queries()]
    for q in queries[:20]:
        service.search(q, limit=10)

    def run() -> None:
        for q in queries * args.rounds:
            service.cache.clear()  # rank every time
            service.search(q, limit=10)

    t = time.perf_counter()
    run()
    n = len(queries) * args.rounds
    print(f"{n} searches, {(time.perf_counter() - t) / n * 1000:.2f} ms each without the profiler")
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
