"""Server CPU per page, by page kind, and where it goes: the profile behind benchmarks/load.py.

    python benchmarks/page_cost.py [--data-dir DIR] [--n 200] [--baseline-src DIR]
                                   [--py-spy PREFIX]

Starts one uvicorn process (1 worker) on a data directory prepared by `benchmarks/load.py`
(same corpus, every index built), then requests one kind of page at a time, one request
after another, and reads the server's CPU time (user + system, /proc/PID/stat) before and
after: CPU milliseconds per request for /healthz, the home page, a paper page, a cold search
(every query distinct) and a warm search (one query repeated). CPU time, unlike throughput,
barely depends on what else the machine runs. `--baseline-src`: the same for an older tree
in the same run. `--py-spy PREFIX`: samples the server during each kind
(PREFIX-<label>-<kind>.txt; `benchmarks/profile_summary.py` groups them by stage).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from load import PY_SPY, Target, free_port, prepare, start_server, stop_server  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def worker_pid(proc: subprocess.Popen[bytes]) -> int:
    """uvicorn with 1 worker serves in its own process: the one in the group using CPU."""
    out = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return max(pids, key=cpu_seconds)


def kinds(base: str, n: int) -> dict[str, list[str]]:
    rng = random.Random(11)
    days = httpx.get(f"{base}/api/daily_papers", params={"month": "2026-08", "limit": 100}).json()
    ids = [d["paper"]["id"] for d in days]
    dates = sorted({d["date"] for d in days})
    titles = httpx.get(f"{base}/api/papers", params={"limit": 100}).json()
    words = sorted({w.lower() for t in titles for w in re.findall(r"[A-Za-z]{5,}", t["title"])})
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < n:
        a, b = rng.sample(words, 2)
        pairs.add((a, b))
    return {
        "healthz": ["/healthz"] * n,
        "home": [rng.choice(["/"] + [f"/?date={d}" for d in dates]) for _ in range(n)],
        "paper": [f"/papers/{rng.choice(ids)}" for _ in range(n)],
        "search cold": [f"/search?q={a}+{b}" for a, b in sorted(pairs)],
        "search warm": ["/search?q=diffusion+models"] * n,
    }


def measure(target: Target, n: int, spy_prefix: str | None) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(target, port, 1)
    costs: dict[str, float] = {}
    try:
        pid = worker_pid(proc)
        with httpx.Client(base_url=base, timeout=60) as client:
            for kind, paths in kinds(base, n).items():
                for p in paths[:5]:  # warm: imports, first renders
                    assert client.get(p).status_code == 200, p
                spy = None
                if spy_prefix:
                    out = f"{spy_prefix}-{target.label}-{kind.replace(' ', '-')}.txt"
                    spy = subprocess.Popen(
                        [PY_SPY, "record", "--pid", str(pid), "--format", "raw", "--rate", "250"]
                        + ["--nonblocking", "-o", out],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                before = cpu_seconds(pid)
                for p in paths:
                    r = client.get(p)
                    assert r.status_code == 200, (p, r.status_code)
                costs[kind] = 1000 * (cpu_seconds(pid) - before) / len(paths)
                if spy is not None:
                    spy.send_signal(2)
                    spy.wait(timeout=60)
    finally:
        stop_server(proc)
    return costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "pf-load")
    ap.add_argument("--baseline-src", type=Path)
    ap.add_argument("--baseline-data-dir", type=Path)
    ap.add_argument("--n", type=int, default=200, help="requests per page kind")
    ap.add_argument("--py-spy", help="sample the server with py-spy (output prefix)")
    args = ap.parse_args()
    targets = [Target("this", None, args.data_dir)]
    if args.baseline_src:
        base_dir = args.baseline_data_dir or Path(f"{args.data_dir}-base")
        targets.insert(0, Target("baseline", args.baseline_src.resolve(), base_dir))
    results = {}
    for t in targets:
        prepare(t)
        results[t.label] = measure(t, args.n, args.py_spy)
        print(t.label, {k: round(v, 2) for k, v in results[t.label].items()}, flush=True)
    load = os.getloadavg()[0]
    print(
        f"\nserver CPU ms per request (1 uvicorn worker, {args.n} sequential requests per kind;"
        f" load average {load:.1f} at the end)"
    )
    labels = list(results)
    print(
        f"{'page':<14}"
        + "".join(f"{label:>10}" for label in labels)
        + ("   this/baseline" if len(labels) == 2 else "")
    )
    for kind in results[labels[0]]:
        row = [results[label][kind] for label in labels]
        ratio = f"{row[1] / row[0]:>16.2f}" if len(row) == 2 and row[0] else ""
        print(f"{kind:<14}" + "".join(f"{v:>10.2f}" for v in row) + ratio)


if __name__ == "__main__":
    main()
