"""Loopback load test of the web app: home, search and paper pages mixed, against /healthz.

    python benchmarks/load.py [--cold] [--connections 8] [--duration 15] [--workers 2]
                              [--baseline-src DIR] [--rounds 2] [--pg postgresql://...]
                              [--py-spy PREFIX]

Loads the real HF daily-papers corpus (~9.8k papers) into a data directory and builds every
search index before any server starts (`paperfeed ingest` + `paperfeed index --sync`, once per
data directory), starts `uvicorn --factory paperfeed.web.app:create_app --workers N` on
127.0.0.1 and drives it with `wrk` (Debian package, 1 thread) for a fixed time: first the
static `/healthz` route as the baseline, then the mix (1/3 daily pages, 1/3 searches, 1/3 paper
pages, rotating through many days, queries and papers). Prints requests/s, p50/p99 latency,
errors, the load average around each run, and the ratio of the mix to /healthz.

`--cold`: every search of the run is distinct (12,000 two-word queries from real titles), so
no search is ever answered from a cache; home and paper pages repeat as real traffic does.
`--baseline-src DIR`: a second code tree (e.g. a `git worktree` of main's `src/`) is timed in
the same run, with its own data directory, rounds interleaved (baseline, this, baseline, ...);
the ratio this/baseline per round is printed. `--pg URL`: the store is PostgreSQL (a database
`pf_load_<label>` made on that server once and kept for reuse) instead of SQLite; the N
uvicorn workers are N app processes on one database. `--py-spy PREFIX`: samples every server
process during each mixed run (`py-spy record --subprocesses`, collapsed stacks in
PREFIX-<label>-<round>.txt); `benchmarks/profile_summary.py` groups them by stage.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
COLD_SEARCHES = 12_000  # more than any run issues: 15 s x 2,400 req/s / 3


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when this script ends, even by SIGKILL (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def own_group_dying_with_parent() -> None:
    """A server: its own process group (stopped as a whole), SIGTERM when this script ends."""
    os.setsid()
    die_with_parent()


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end this script through its `finally` blocks, which stop the
    servers (as Ctrl-C does), instead of leaving them running."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, leave)


@dataclass
class Target:
    """One code tree under test, with its own data directory (and database)."""

    label: str
    src: Path | None  # PYTHONPATH for that tree; None: the installed paperfeed
    data_dir: Path
    database_url: str | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PAPERFEED_DATA_DIR": str(self.data_dir)}
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        if self.database_url:
            env["PAPERFEED_DATABASE_URL"] = self.database_url
        return env


def make_database(admin_url: str, name: str) -> str:
    """`name` on the PostgreSQL server of `admin_url` (made when missing); its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {name}")
    return f"{admin_url.rpartition('/')[0]}/{name}"


def prepare(target: Target) -> None:
    """Ingest the corpus and build every index (blocking) unless this data dir has them."""
    ready = target.data_dir / ".load-ready"
    if ready.exists() and ready.read_text() == (target.database_url or ""):
        return
    target.data_dir.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "paperfeed"]
    print(f"[{target.label}] loading {CORPUS.name} into {target.data_dir} ...", flush=True)
    subprocess.run(
        [*cli, "ingest", str(CORPUS)], env=target.env(), check=True, preexec_fn=die_with_parent
    )
    print(f"[{target.label}] building every search index (blocks until done) ...", flush=True)
    subprocess.run(
        [*cli, "index", "--sync"], env=target.env(), check=True, preexec_fn=die_with_parent
    )
    ready.write_text(target.database_url or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(target: Target, port: int, workers: int) -> subprocess.Popen[bytes]:
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
    proc = subprocess.Popen(cmd, env=target.env(), preexec_fn=own_group_dying_with_parent)
    try:
        wait_started(target, proc, port, workers)
    except BaseException:
        stop_server(proc)
        raise
    return proc


def wait_started(target: Target, proc: subprocess.Popen[bytes], port: int, workers: int) -> None:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                # every worker must have finished its start-up: warm them all
                for _ in range(workers * 8):
                    httpx.get(f"http://127.0.0.1:{port}/search?q=warm+up", timeout=60)
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"[{target.label}] server exited with {proc.returncode}")
        time.sleep(0.5)
    raise SystemExit(f"[{target.label}] server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop uvicorn and its worker processes (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def mixed_paths(base: str, cold: bool) -> list[str]:
    """A shuffled rotation of daily pages, searches and paper pages from the live instance.

    `cold`: COLD_SEARCHES distinct searches (two title words of real papers), so that no
    search of a run repeats and every one runs the search engine.
    """
    rng = random.Random(7)
    days = httpx.get(f"{base}/api/daily_papers", params={"month": "2026-08", "limit": 100}).json()
    ids = [d["paper"]["id"] for d in days]
    dates = sorted({d["date"] for d in days})
    home = ["/"] + [f"/?date={d}" for d in dates]
    papers = [f"/papers/{i}" for i in ids]
    if not cold:
        search = [f"/search?q={q.replace(' ', '+')}" for q in QUERIES]
        return [
            p
            for _ in range(300)
            for p in (rng.choice(home), rng.choice(search), rng.choice(papers))
        ]
    titles = httpx.get(f"{base}/api/papers", params={"limit": 100}).json()
    words = sorted({w.lower() for t in titles for w in re.findall(r"[A-Za-z]{5,}", t["title"])})
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < COLD_SEARCHES:
        a, b = rng.sample(words, 2)
        pairs.add((a, b))
    queries = sorted(pairs)
    rng.shuffle(queries)
    return [
        p for a, b in queries for p in (rng.choice(home), f"/search?q={a}+{b}", rng.choice(papers))
    ]


def check_paths(base: str, paths: list[str]) -> None:
    """Every non-search path answers 200 (on each worker) before timing."""
    warm = sorted({p for p in paths if not p.startswith("/search")})
    for p in warm * 3:
        status = httpx.get(base + p, timeout=60).status_code
        assert status == 200, (p, status)
    for p in [p for p in paths if p.startswith("/search")][:3]:  # 3 searches: they answer
        status = httpx.get(base + p + "+check", timeout=60).status_code
        assert status == 200, (p, status)


def lua_script(paths: list[str]) -> str:
    items = ",\n".join(f'  "{p}"' for p in paths)
    return (
        f"local paths = {{\n{items}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return wrk.format('GET', paths[((i - 1) % #paths) + 1])\n"
        "end\n"
    )


def run_wrk(url: str, *, duration: int, connections: int, script: Path | None) -> dict:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency"]
    cmd += ["--timeout", "5s"]
    if script:
        cmd += ["-s", str(script)]
    load_before = os.getloadavg()[0]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, preexec_fn=die_with_parent
    ).stdout
    load_after = os.getloadavg()[0]

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(x) for x in m.groups()) if m else 0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    assert rps and done, out
    return {
        "rps": float(rps.group(1)),
        "requests": int(done.group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": errors,
        "load": f"{load_before:.1f}-{load_after:.1f}",
    }


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    out = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def measure(target: Target, args: argparse.Namespace, paths: list[str] | None, tag: str) -> tuple:
    """Start a fresh server for `target`, time /healthz and the mix; (paths, healthz, mixed)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(target, port, args.workers)
    spy = None
    try:
        paths = paths or mixed_paths(base, args.cold)
        check_paths(base, paths)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
            fh.write(lua_script(paths))
        healthz = run_wrk(
            base + "/healthz", duration=args.duration, connections=args.connections, script=None
        )
        if args.py_spy:
            out = f"{args.py_spy}-{tag}.txt"
            spy = subprocess.Popen(
                [PY_SPY, "record", "--pid", str(proc.pid), "--subprocesses", "--format", "raw"]
                + ["--rate", "200", "--duration", str(args.duration), "--nonblocking", "-o", out],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        mixed = run_wrk(
            base, duration=args.duration, connections=args.connections, script=Path(fh.name)
        )
        if spy is not None:
            spy.wait(timeout=60)
        mixed["rss_mib"] = rss_mib(server_pids(proc))
    finally:
        if spy is not None and spy.poll() is None:
            spy.terminate()
        stop_server(proc)
    return paths, healthz, mixed


def rss_mib(pids: list[int]) -> str:
    """Resident memory of each server process (MiB), largest first."""
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmRSS:\s+(\d+) kB", status)
        if m:
            sizes.append(int(m.group(1)) // 1024)
    return "/".join(str(s) for s in sorted(sizes, reverse=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "pf-load")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--cold", action="store_true", help="every search distinct (cache misses)")
    ap.add_argument("--baseline-src", type=Path, help="an older tree's src/ to time alongside")
    ap.add_argument("--baseline-data-dir", type=Path, help="its data dir (default DATA_DIR-base)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds per tree")
    ap.add_argument("--pg", help="PostgreSQL admin URL: use PostgreSQL stores on that server")
    ap.add_argument("--py-spy", help="sample the servers with py-spy (output prefix)")
    args = ap.parse_args()
    stop_on_signals()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    suffix = "-pg" if args.pg else ""
    this = Target("this", None, Path(f"{args.data_dir}{suffix}"))
    targets = [this]
    if args.baseline_src:
        base_dir = args.baseline_data_dir or Path(f"{args.data_dir}-base")
        targets.insert(
            0, Target("baseline", args.baseline_src.resolve(), Path(f"{base_dir}{suffix}"))
        )
    for t in targets:
        if args.pg:
            t.database_url = make_database(args.pg, f"pf_load_{t.label}")
        prepare(t)
    rows: list[tuple[str, dict, dict]] = []
    paths: list[str] | None = None
    for r in range(1, args.rounds + 1):
        for t in targets:
            paths, healthz, mixed = measure(t, args, paths, f"{t.label}-{r}")
            rows.append((f"{t.label} r{r}", healthz, mixed))
            print(f"{t.label} round {r}: healthz {healthz}, mixed {mixed}", flush=True)
    store = "PostgreSQL" if args.pg else "SQLite"
    print(
        f"\ncores {os.cpu_count()}, store {store}, uvicorn workers {args.workers}, wrk 1 thread "
        f"x {args.connections} connections, {args.duration} s per run, corpus {CORPUS.name}"
        + (f", cold: {COLD_SEARCHES:,} distinct searches" if args.cold else ", warm: 20 queries")
    )
    head = f"{'run':<14}{'healthz/s':>10}{'mixed/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
    print(head + f"{'mix/hz':>8}{'load avg':>11}  RSS MiB")
    for name, hz, mx in rows:
        print(
            f"{name:<14}{hz['rps']:>10.0f}{mx['rps']:>9.1f}{mx['p50_ms']:>8.1f}{mx['p99_ms']:>8.1f}"
            f"{mx['errors']:>7}{mx['rps'] / hz['rps']:>8.3f}{mx['load']:>11}  {mx['rss_mib']}"
        )
    if args.baseline_src:
        for r in range(args.rounds):
            before, after = rows[2 * r][2], rows[2 * r + 1][2]
            print(
                f"round {r + 1}: this / baseline mixed req/s = {after['rps'] / before['rps']:.2f}"
            )


if __name__ == "__main__":
    main()
