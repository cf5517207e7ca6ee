"""SQLite with 1 app process vs PostgreSQL with 1 and 2: ingest rate, search p95, mixed load.

    python benchmarks/backends.py [--papers 100000] [--duration 15] [--rounds 3]
                                  [--connections 8] [--pg postgresql://127.0.0.1:5432/test]

Same machine, same data, one run:

1. **Ingest**: `--papers` real arXiv records (`arxiv_cs_daily_2024-2026.part-00.jsonl.gz`)
   parsed once into memory, then written with `store.upsert_papers` in batches of 5,000 into
   a fresh SQLite file and a fresh PostgreSQL database (parse time excluded; the catalogue
   write path only). Papers/s for each, and PostgreSQL / SQLite.
2. **Serving**: the real HF daily-papers corpus (9,774 papers) loaded into a fresh store per
   backend; `paperfeed serve` processes started on it (SQLite: 1; PostgreSQL: 1, and 2
   on the same database with the load spread over both, as behind a load balancer), all
   configurations' processes at once. For each:
   - search p95: 400 distinct two-word searches (`/api/papers/search`, 4 at a time);
   - mixed rate: `--connections` clients for `--duration` s, each request one of home page,
     search page (20 popular queries), paper page, or an upvote (POST, 50 signed-in users),
     in equal shares; requests/s, p50/p99 and errors. Measured in `--rounds` interleaved
     rounds (SQLite-1, PG-1, PG-2, then PG-1, PG-2, SQLite-1, ...), each configuration
     continuing its own copy of the same request sequence, so that the machine's changing
     load (it is shared) falls on every configuration alike; req/s over all rounds.
   The load generator is Python (httpx, asyncio) on the same 2 cores: it costs CPU the
   servers would otherwise have, equally in every configuration.

   Beside the rate: the page cache's hit rate (its `x-page-cache` header), and the CPU
   seconds (user + system, from /proc) that the app processes and the PostgreSQL backends
   serving them spent per request: a cost that the machine's load does not move (on N idle
   cores, N / CPU per request is the rate they could serve).

Every configuration runs with the same settings: `PAPERFEED_TRANSFORMER` from
`--transformer` (default `off`: a fresh instance's transformer backfill takes minutes of CPU
per process and would run during the measurement, twice with 2 processes; search is then
keyword + static vectors everywhere) and the default page cache. Each signed-in reader sends
its own address (`X-Forwarded-For`, trusted from 127.0.0.1), as behind a load balancer: with
every upvote from one address the per-address limit (900 per 15 minutes) refused upvotes past
~240 req/s.
`--configs` runs a subset; `--py-spy PREFIX` samples every app process during each mixed
run (`py-spy record --format raw`, read by `benchmarks/profile_summary.py`).

Creates and drops its own PostgreSQL databases (`pf_bench_<random>`).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

DATA = Path("/work/shared/data")
INGEST_SOURCE = DATA / "arxiv_cs_daily_2024-2026.part-00.jsonl.gz"
CORPUS = DATA / "hf_daily_papers_2404589803_2024-2026.jsonl.gz"
QUERIES = [
    "upper bound", "diffusion models", "retrieval augmented generation",
    "reinforcement learning", "speech recognition", "video generation", "mixture of experts",
    "reward model", "code generation", "vision language model", "quantization",
    "long context", "protein structure", "regret bound", "graph neural network", "agents",
    "3D reconstruction", "tokenizer", "benchmark for reasoning", "image editing",
]  # fmt: skip
SECRET = "benchmark-secret"
CONFIGS = {"sqlite1": (None, 1), "pg1": ("pg", 1), "pg2": ("pg", 2)}
NAMES = {"sqlite1": "SQLite, 1 process", "pg1": "PostgreSQL, 1 process",
         "pg2": "PostgreSQL, 2 processes"}  # fmt: skip
TICK = os.sysconf("SC_CLK_TCK")
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


class PgBench:
    """Fresh databases on the PostgreSQL server, dropped at the end."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.made: list[str] = []

    def new(self) -> str:
        name = f"pf_bench_{secrets.token_hex(4)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        return f"{self.admin.rpartition('/')[0]}/{name}"

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.made:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def open_store_at(data: Path, url: str | None):  # noqa: ANN201
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    return open_store(load_settings(data_dir=data, database_url=url))


# --- 1. ingest ------------------------------------------------------------------------------


def read_papers(n: int) -> list:  # noqa: ANN401
    from paperfeed.ingest.jsonl import parse_jsonl
    from paperfeed.ingest.records import Record

    with gzip.open(INGEST_SOURCE, "rb") as fh:
        items = itertools.islice(parse_jsonl(fh, INGEST_SOURCE.name), n)
        return [i.paper for i in items if isinstance(i, Record)]


def time_ingest(store, papers: list, batch: int = 5000) -> float:  # noqa: ANN001
    start = time.perf_counter()
    for i in range(0, len(papers), batch):
        store.upsert_papers(papers[i : i + batch])
    return time.perf_counter() - start


# --- 2. serving -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: Path, url: str | None, transformer: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url or "",
        "PAPERFEED_SECRET_KEY": SECRET,
        "PAPERFEED_DIGEST_TIME": "",
        "PAPERFEED_TRANSFORMER": transformer,
    }
    cmd = [sys.executable, "-m", "paperfeed", "--data-dir", str(data), "serve", "--no-sample"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def tokens(data: Path, url: str | None, n: int, prefix: str) -> list[dict[str, str]]:
    """Request headers of `n` signed-in readers (bearer tokens made in the store: sign-up over
    HTTP is throttled)."""
    from paperfeed import accounts

    store = open_store_at(data, url)
    out = []
    try:
        for i in range(n):
            user = accounts.sign_up(
                store,
                email=f"{prefix}{i}@example.org",
                password="correct horse battery",
                client=f"{prefix}{i}",
            )
            # each reader from an address of their own, as behind a load balancer (uvicorn
            # trusts X-Forwarded-For from 127.0.0.1): the per-address upvote limit is then
            # one reader's, not the whole load generator's
            token = accounts.start_session(store, user)
            out.append({"Authorization": f"Bearer {token}", "X-Forwarded-For": f"10.1.0.{i + 1}"})
    finally:
        store.close()
    return out


async def drive(
    bases: list[str],
    requests: list[tuple[str, str, dict]],
    connections: int,
    seconds: float,
    start: int = 0,
) -> dict:
    """`connections` clients sending `requests` (from index `start` on) for `seconds`."""
    latencies: list[float] = []
    errors = 0
    hits = misses = 0
    stop = time.monotonic() + seconds
    counter = itertools.count(start)

    async def client(k: int) -> None:
        nonlocal errors, hits, misses
        async with httpx.AsyncClient(timeout=30) as http:
            while time.monotonic() < stop:
                i = next(counter)
                method, path, headers = requests[i % len(requests)]
                # round robin that moves on by one every cycle of the 4 request kinds, so
                # with 2 processes each serves every kind (i % 2 alone sent all the home and
                # paper pages to one process, all the searches and upvotes to the other)
                base = bases[(i + i // 4) % len(bases)]
                t0 = time.perf_counter()
                try:
                    r = await http.request(method, base + path, headers=headers)
                    if r.status_code >= 400:
                        errors += 1
                    cache = r.headers.get("x-page-cache")
                    hits += cache == "hit"
                    misses += cache == "miss"
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

    t0 = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(connections)))
    elapsed = time.monotonic() - t0
    out = summary(latencies, elapsed)
    out.update(errors=errors, hits=hits, misses=misses, latencies=latencies, elapsed=elapsed)
    out["next"] = next(counter)
    return out


def summary(latencies: list[float], elapsed: float) -> dict:
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[int(len(ordered) * 0.95)],
        "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)],
        "requests": len(ordered),
    }


def mixed_requests(
    rng: random.Random, ids: list[str], users: list[dict[str, str]], n: int = 20_000
) -> list[tuple[str, str, dict[str, str]]]:
    """The mixed load: home, search page, paper page and upvote in equal shares."""
    mix: list[tuple[str, str, dict[str, str]]] = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            mix.append(("GET", "/", {}))
        elif kind == 1:
            mix.append(("GET", f"/search?q={rng.choice(QUERIES).replace(' ', '+')}", {}))
        elif kind == 2:
            mix.append(("GET", f"/papers/{rng.choice(ids)}", {}))
        else:
            mix.append(("POST", f"/api/papers/{rng.choice(ids)}/upvote", rng.choice(users)))
    return mix


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def pg_backends(admin: str, url: str | None) -> list[int]:
    """The PostgreSQL server processes connected to the database of `url`."""
    if url is None:
        return []
    db = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchall()
    return [r[0] for r in rows]


class Served:
    """One configuration's running app processes and what was measured on them."""

    def __init__(self, key: str, data: Path, url: str | None, args: argparse.Namespace) -> None:
        _, processes = CONFIGS[key]
        self.key, self.name, self.data, self.url = key, NAMES[key], data, url
        # SQLite: the one process serves the database in the data directory itself
        dirs = [data / f"inst{i}" if url else data for i in range(processes)]
        self.procs = [start(d, url, args.transformer) for d in dirs]
        self.bases = [b for _, b in self.procs]
        self.app_pids = [proc.pid for proc, _ in self.procs]
        self.next = 0  # where in the mix the next round starts
        self.latencies: list[float] = []
        self.elapsed = 0.0
        self.rounds: list[tuple[float, float]] = []  # (req/s, load average) per round
        self.errors = self.hits = self.misses = 0
        self.app_cpu = self.db_cpu = 0.0

    def prepare(self, args: argparse.Namespace) -> None:
        """Search p95, then the mixed load's readers and requests, and a warm-up."""
        rng = random.Random(11)  # the same searches and mix for every configuration
        api = httpx.get(self.bases[0] + "/api/papers", params={"limit": 100}, timeout=60).json()
        ids = [p["id"] for p in api]
        words = sorted({w.lower() for p in api for w in re.findall(r"[A-Za-z]{5,}", p["title"])})
        cold = [
            f"{a} {b}"
            for a, b in zip(rng.choices(words, k=400), rng.choices(words, k=400), strict=True)
        ]
        search = [("GET", f"/api/papers/search?q={q.replace(' ', '+')}&limit=10", {}) for q in cold]
        # p95 over exactly the 400 distinct searches, 4 at a time
        self.search = asyncio.run(drive_n(self.bases, search, 4))
        users = tokens(self.data, self.url, 50, prefix=f"{self.key}-")
        self.mix = mixed_requests(rng, ids, users)
        for m, p, h in self.mix[-40:]:  # warm every process (not the measured requests)
            for b in self.bases:
                httpx.request(m, b + p, headers=h, timeout=60)

    def measure(self, args: argparse.Namespace) -> None:
        """One round of the mixed load, continuing the mix where the last round stopped."""
        db_pids = pg_backends(args.pg, self.url)
        app0 = sum(cpu_s(p) for p in self.app_pids)
        db0 = {p: cpu_s(p) for p in db_pids}
        load = os.getloadavg()[0]
        r = asyncio.run(drive(self.bases, self.mix, args.connections, args.duration, self.next))
        self.app_cpu += sum(cpu_s(p) for p in self.app_pids) - app0
        self.db_cpu += sum(cpu_s(p) - db0[p] for p in db_pids if cpu_s(p))
        self.next = r["next"]
        self.latencies += r["latencies"]
        self.elapsed += r["elapsed"]
        self.errors += r["errors"]
        self.hits += r["hits"]
        self.misses += r["misses"]
        self.rounds.append((r["rps"], load))

    def report(self) -> dict:
        mixed = summary(self.latencies, self.elapsed)
        n = mixed["requests"]
        mixed.update(
            errors=self.errors,
            cache_hits=self.hits / max(1, self.hits + self.misses),
            app_cpu_ms=1000 * self.app_cpu / n,
            db_cpu_ms=1000 * self.db_cpu / n,
        )
        rounds = "  ".join(f"{rps:.0f} (load {load:.1f})" for rps, load in self.rounds)
        print(
            f"{self.name:<24} search p95 {self.search['p95_ms']:6.1f} ms (p50 "
            f"{self.search['p50_ms']:.1f})  mixed {mixed['rps']:6.1f} req/s  p50 "
            f"{mixed['p50_ms']:.1f} ms  p99 {mixed['p99_ms']:.1f} ms  errors {mixed['errors']}  "
            f"page cache hits {mixed['cache_hits']:.0%}  CPU/request app "
            f"{mixed['app_cpu_ms']:.1f} + PostgreSQL {mixed['db_cpu_ms']:.1f} ms\n"
            f"{'':<24} rounds: {rounds}",
            flush=True,
        )
        return {"search": self.search, "mixed": mixed}

    def stop(self) -> None:
        for proc, _ in self.procs:
            proc.terminate()
        for proc, _ in self.procs:
            proc.wait(timeout=30)


async def drive_n(bases: list[str], requests: list[tuple[str, str, dict]], parallel: int) -> dict:
    latencies: list[float] = []
    errors = 0
    queue = list(enumerate(requests))

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=60) as http:
            while queue:
                i, (method, path, headers) = queue.pop()
                t0 = time.perf_counter()
                r = await http.request(method, bases[i % len(bases)] + path, headers=headers)
                errors += r.status_code >= 400
                latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(client() for _ in range(parallel)))
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
        "errors": errors,
    }


def load_corpus(data: Path, url: str | None) -> None:
    from paperfeed.ingest import ingest_sources

    store = open_store_at(data, url)
    try:
        ingest_sources(store, [str(CORPUS)])
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--pg", default="postgresql://127.0.0.1:5432/test")
    ap.add_argument("--skip-serving", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--configs", default="sqlite1,pg1,pg2", help="which of sqlite1,pg1,pg2")
    ap.add_argument("--transformer", default="off", help="PAPERFEED_TRANSFORMER for every server")
    ap.add_argument("--py-spy", help="sample the app processes during the mixed runs (prefix)")
    ap.add_argument("--tag", default="run", help="part of the py-spy file names")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved mixed-load rounds")
    args = ap.parse_args()
    pg = PgBench(args.pg)
    tmp = Path(tempfile.mkdtemp(prefix="pf-bench-"))
    try:
        if args.skip_ingest:
            return serve_all(args, pg, tmp)
        papers = read_papers(args.papers)
        print(f"ingest: {len(papers)} papers parsed from {INGEST_SOURCE.name}", flush=True)
        sqlite_store = open_store_at(tmp / "ingest-sqlite", None)
        s_time = time_ingest(sqlite_store, papers)
        sqlite_store.close()
        pg_store = open_store_at(tmp / "ingest-pg", pg.new())
        p_time = time_ingest(pg_store, papers)
        again = time_ingest(pg_store, papers)  # every paper already there: unchanged
        pg_store.close()
        n = len(papers)
        print(
            f"ingest SQLite      {n / s_time:9.0f} papers/s  ({s_time:.1f} s)\n"
            f"ingest PostgreSQL  {n / p_time:9.0f} papers/s  ({p_time:.1f} s)  "
            f"ratio PG/SQLite {s_time / p_time:.2f}\n"
            f"re-ingest PostgreSQL (all unchanged) {n / again:9.0f} papers/s",
            flush=True,
        )
        if not args.skip_serving:
            serve_all(args, pg, tmp)
    finally:
        pg.drop()
        shutil.rmtree(tmp, ignore_errors=True)  # the stores and indexes made for the run


def serve_all(args: argparse.Namespace, pg: PgBench, tmp: Path) -> None:
    """Every configuration's servers up at once, then the mixed load in interleaved rounds
    (`--rounds`; each round visits the configurations in turn, starting one further along
    each time), so that a change in the machine's load falls on all of them alike."""
    chosen = args.configs.split(",")
    if "sqlite1" in chosen:
        load_corpus(tmp / "sqlite", None)
    pg_url = None
    if any(CONFIGS[c][0] for c in chosen):
        pg_url = pg.new()
        load_corpus(tmp / "pg-seed", pg_url)
    served: list[Served] = []
    spies: list[subprocess.Popen] = []
    try:
        for key in chosen:
            kind, processes = CONFIGS[key]
            data = tmp / ("sqlite" if kind is None else f"pg{processes}")
            served.append(Served(key, data, pg_url if kind else None, args))
        for s in served:
            s.prepare(args)
        if args.py_spy:  # every app process, for the whole mixed phase (idle time not sampled)
            seconds = int(args.duration * args.rounds * len(served) + 30)
            for s in served:
                for k, pid in enumerate(s.app_pids):
                    out = f"{args.py_spy}-{args.tag}-{s.key}-{k}.txt"
                    spies.append(
                        subprocess.Popen(
                            [PY_SPY, "record", "--pid", str(pid), "--format", "raw"]
                            + ["--rate", "100", "--duration", str(seconds), "--nonblocking"]
                            + ["-o", out],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
        for r in range(args.rounds):
            for s in served[r % len(served) :] + served[: r % len(served)]:
                s.measure(args)
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its profile on Ctrl-C
        for spy in spies:
            spy.wait(timeout=60)
        print(f"mixed load: {args.rounds} rounds of {args.duration:g} s per configuration")
        for s in served:
            s.report()
    finally:
        for s in served:
            s.stop()


if __name__ == "__main__":
    main()
