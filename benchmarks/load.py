"""Loopback load test of the web app: home, search and paper pages mixed, against /healthz.

    python benchmarks/load.py [--data-dir DIR] [--workers 2] [--duration 20] [--connections 16]

Loads the real HF daily-papers corpus (~9.8k papers) into a data directory (once), starts
`uvicorn --factory paperfeed.web.app:create_app` as its own process on 127.0.0.1, and drives
it with `wrk` (Debian package) for a fixed time: first the static `/healthz` route as the
baseline, then the mix (1/3 daily pages, 1/3 searches, 1/3 paper pages, rotating through many
days, queries and papers). Prints requests/s, p50/p99 latency and errors, and the ratio of
the mix to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CORPUS = Path("/work/shared/data/hf_daily_papers_2404589803_2024-2026.jsonl.gz")
QUERIES = [
    "upper bound",
    "diffusion models",
    "retrieval augmented generation",
    "reinforcement learning",
    "speech recognition",
    "video generation",
    "mixture of experts",
    "reward model",
    "code generation",
    "vision language model",
    "quantization",
    "long context",
    "protein structure",
    "regret bound",
    "graph neural network",
    "agents",
    "3D reconstruction",
    "tokenizer",
    "benchmark for reasoning",
    "image editing",
]


def prepare(data_dir: Path) -> None:
    from paperfeed.ingest import ingest_sources
    from paperfeed.search import sync_keyword_index
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=data_dir)
    store = open_store(settings)
    try:
        if store.stats().papers == 0:
            print(f"loading {CORPUS.name} into {data_dir} ...", flush=True)
            ingest_sources(store, [str(CORPUS)])
        sync_keyword_index(store, settings)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir)}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "paperfeed.web.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                # every worker must have finished its start-up: warm them all
                for _ in range(workers * 8):
                    httpx.get(f"http://127.0.0.1:{port}/search?q=warm+up", timeout=60)
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start")


def mixed_paths(base: str, cold: bool) -> list[str]:
    """A shuffled rotation of daily pages, searches and paper pages from the live instance.

    `cold`: 900 distinct searches (two title words of real papers), more than the web app's
    result cache holds, so that every search in the rotation runs the search engine.
    """
    rng = random.Random(7)
    days = httpx.get(f"{base}/api/daily_papers", params={"month": "2026-08", "limit": 100}).json()
    ids = [d["paper"]["id"] for d in days]
    dates = sorted({d["date"] for d in days})
    home = ["/"] + [f"/?date={d}" for d in dates]
    queries = QUERIES
    if cold:
        titles = httpx.get(f"{base}/api/papers", params={"limit": 100}).json()
        words = sorted({w.lower() for t in titles for w in re.findall(r"[A-Za-z]{5,}", t["title"])})
        firsts, seconds = rng.sample(words, 30) * 30, rng.sample(words * 30, 900)
        queries = [f"{a} {b}" for a, b in zip(firsts, seconds, strict=True)]
    search = [f"/search?q={q.replace(' ', '+')}" for q in queries]
    papers = [f"/papers/{i}" for i in ids]
    paths = []
    for i in range(300 if not cold else 900):
        paths += [rng.choice(home), search[i] if cold else rng.choice(search), rng.choice(papers)]
    warm = [p for p in sorted(set(paths)) if not (cold and p.startswith("/search"))]
    for p in warm * 3:  # every path answers 200 (on each worker) before timing
        status = httpx.get(base + p, timeout=60).status_code
        assert status == 200, (p, status)
    return paths


def lua_script(paths: list[str]) -> str:
    items = ",\n".join(f'  "{p}"' for p in paths)
    return (
        f"local paths = {{\n{items}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\n"
        "end\n"
    )


def run_wrk(url: str, *, duration: int, connections: int, script: Path | None) -> dict:
    cmd = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(x) for x in m.groups()) if m else 0
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "pf-load")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--cold", action="store_true", help="900 distinct searches (cache misses)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    prepare(args.data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(args.data_dir, port, args.workers)
    try:
        paths = mixed_paths(base, args.cold)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
            fh.write(lua_script(paths))
        baseline = run_wrk(
            base + "/healthz", duration=args.duration, connections=args.connections, script=None
        )
        mixed = run_wrk(
            base, duration=args.duration, connections=args.connections, script=Path(fh.name)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    cores = os.cpu_count()
    print(
        f"cores {cores}, uvicorn workers {args.workers}, wrk 1 thread x {args.connections} "
        f"connections, {args.duration} s per run, corpus {CORPUS.name}"
        + (", cold searches" if args.cold else "")
    )
    print(f"{'run':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in (("baseline /healthz", baseline), ("mixed home/search/paper", mixed)):
        print(f"{name:<28}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8}")
    print(f"mixed / baseline throughput: {mixed['rps'] / baseline['rps']:.2f}")
    ok = mixed["rps"] >= 200 and mixed["p99_ms"] <= 100 and mixed["errors"] == 0
    print("target (>= 200 req/s, p99 <= 100 ms, no errors):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
