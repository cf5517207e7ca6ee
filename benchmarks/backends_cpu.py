"""CPU per request of the mixed load: SQLite with 1 app process, PostgreSQL with 1 and 2.

    PAPERFEED_TRANSFORMER=off python benchmarks/backends_cpu.py [--duration 15] [--connections 8]

`benchmarks/backends.py` measures requests per second, which on a shared machine moves with
everyone else's load. This measures what a request costs, which does not: the same corpus,
servers and request mix as backends.py's mixed load (home, search page, paper page, upvote
in equal shares), and for each configuration the CPU seconds (user + system, from /proc)
spent by the app processes and by the PostgreSQL backends serving them, divided by the
requests answered. On N cores, N / (CPU per request) is the rate a quiet machine could
serve, whatever the load while measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
import backends as b  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def pg_backends(admin: str, url: str | None) -> list[int]:
    if url is None:
        return []
    db = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchall()
    return [r[0] for r in rows]


def measure(name: str, data: Path, url: str | None, processes: int, args) -> None:  # noqa: ANN001
    procs = [b.start(data / f"inst{i}" if url else data, url) for i in range(processes)]
    bases = [base for _, base in procs]
    try:
        rng = random.Random(11)
        api = httpx.get(bases[0] + "/api/papers", params={"limit": 100}, timeout=60).json()
        ids = [p["id"] for p in api]
        users = b.tokens(data, url, 50, prefix=f"c{processes}{'pg' if url else 'sq'}")
        mix = b.mixed_requests(rng, ids, users)
        for m, p, h in mix[:80]:  # warm every process (caches, pools, prepared statements)
            for base in bases:
                httpx.request(m, base + p, headers=h, timeout=60)
        app_pids = [proc.pid for proc, _ in procs]
        db_pids = pg_backends(args.pg, url)
        app0 = sum(cpu_s(p) for p in app_pids)
        db0 = {p: cpu_s(p) for p in db_pids}
        t0 = time.monotonic()
        mixed = asyncio.run(b.drive(bases, mix, args.connections, args.duration))
        wall = time.monotonic() - t0
        app = sum(cpu_s(p) for p in app_pids) - app0
        db = sum(cpu_s(p) - db0[p] for p in db_pids if cpu_s(p))  # backends open throughout
        n = mixed["requests"]
        load = os.getloadavg()[0]
        print(
            f"{name:<26} {n:5d} requests in {wall:4.1f} s ({mixed['rps']:5.1f} req/s, load "
            f"{load:4.1f})  CPU/request: app {1000 * app / n:5.1f} ms + PostgreSQL "
            f"{1000 * db / n:4.1f} ms = {1000 * (app + db) / n:5.1f} ms  errors {mixed['errors']}",
            flush=True,
        )
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--pg", default="postgresql://127.0.0.1:5432/test")
    args = ap.parse_args()
    pg = b.PgBench(args.pg)
    tmp = Path(tempfile.mkdtemp(prefix="pf-bench-cpu-"))
    try:
        b.load_corpus(tmp / "sqlite", None)
        url = pg.new()
        b.load_corpus(tmp / "pg-seed", url)
        measure("SQLite, 1 process", tmp / "sqlite", None, 1, args)
        measure("PostgreSQL, 1 process", tmp / "pg", url, 1, args)
        measure("PostgreSQL, 2 processes", tmp / "pg2", url, 2, args)
    finally:
        pg.drop()


if __name__ == "__main__":
    main()
