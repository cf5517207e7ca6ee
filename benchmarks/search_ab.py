"""Query latency of this checkout's search against an older one, in the same process.

Run: git archive <commit> src | tar -x -C /tmp/old        (the older code)
     python benchmarks/search_ab.py --old /tmp/old/src --data-dir DIR [--rounds 3]

On a busy machine two runs of `search_latency.py` differ by more than a few percent, so a
change of one or two milliseconds cannot be told from the load. Here the older package is
loaded beside this one (a copy with its imports renamed to `paperfeed_old`), both open a
`SearchService` on the same built data directory (`search_latency.py --build-only`, with
`--transformer` for the shipped configuration), and each dev query runs on both, in turns
(which goes first alternates), the result cache cleared before each. Both must give the same
hits: ids, scores, papers and snippets. Prints the p50/p95 of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_queries  # noqa: E402

_IMPORT = re.compile(r"^(\s*)(from|import) paperfeed\b", re.MULTILINE)


def old_package(src: Path, into: Path) -> None:
    """Copy `src/paperfeed` to `into/paperfeed_old` with its own imports renamed."""
    shutil.copytree(src / "paperfeed", into / "paperfeed_old")
    for path in (into / "paperfeed_old").rglob("*.py"):
        path.write_text(_IMPORT.sub(r"\1\2 paperfeed_old", path.read_text()))
    sys.path.insert(0, str(into))


def open_service(package: str, data_dir: Path) -> Any:
    settings_mod = __import__(f"{package}.settings", fromlist=["load_settings"])
    search_mod = __import__(f"{package}.search", fromlist=["SearchService"])
    sqlite_mod = __import__(f"{package}.store.sqlite", fromlist=["SqliteStore"])
    settings = settings_mod.load_settings(data_dir=data_dir, transformer="onnx")
    return search_mod.SearchService(
        sqlite_mod.SqliteStore(settings.sqlite_path), settings, background=False
    )


def answer(service: Any, query: str) -> tuple[float, list[tuple[Any, ...]]]:
    service.cache.clear()  # rank every time
    t = time.perf_counter()
    res = service.search(query, limit=10)
    took = time.perf_counter() - t
    return took, [(h.paper_id, h.score, h.paper, [tuple(s) for s in h.snippet]) for h in res]


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p / 100))] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=Path, required=True, help="the older checkout's src/")
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_package(args.old, Path(tmp))
        services = {"old": open_service("paperfeed_old", args.data_dir)}
        services["new"] = open_service("paperfeed", args.data_dir)
        queries = [q for q, _ in load_queries()]
        for q in queries[:20]:  # warm up both
            for s in services.values():
                s.search(q, limit=10)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for n in range(args.rounds):
            for i, q in enumerate(queries):
                order = ("old", "new") if (n + i) % 2 == 0 else ("new", "old")
                got = {}
                for name in order:
                    took, got[name] = answer(services[name], q)
                    times[name].append(took)
                assert repr(got["old"]) == repr(got["new"]), q  # (two packages' classes)
        for s in services.values():
            s.close()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(queries)} queries x {args.rounds} rounds, same hits; load average {load}")
    for name, t in times.items():
        print(
            f"{name}: p50 {pct(t, 50):.2f} ms, p95 {pct(t, 95):.2f} ms, "
            f"mean {statistics.mean(t) * 1e3:.2f} ms"
        )
    ratio = sum(times["old"]) / sum(times["new"])
    print(f"old/new: total {ratio:.3f}x, p50 {pct(times['old'], 50) / pct(times['new'], 50):.3f}x")


if __name__ == "__main__":
    main()
