"""Where the library pages of a reader with 10,000 saved papers spend their CPU.

    nice -n 10 .venv/bin/python benchmarks/library_profile.py --data-dir DIR
        [--backend sqlite|postgres] [--n 40] [--py-spy PREFIX] [PAGE ...]

Prepares DIR once as `benchmarks/library_pages.py` does (real HF daily papers, search index,
a reader with 10,000 saved papers, 300 upvoted, read and noted; a reader with 10) and reuses
it on later runs (on PostgreSQL the store is the database `pf_prof_library`, kept too). Then
serves the app in this process (FastAPI's TestClient, no sockets) and, page by page, reads
the process's CPU time over `--n` requests: CPU milliseconds per request, which barely
depends on what else the machine runs (the wall-clock figures of library_pages.py do).
`--py-spy PREFIX` samples this process during each page (PREFIX-<page>.txt, raw format) and
prints the share per stage (`benchmarks/profile_summary.py`). PAGE: only the pages whose
name contains one of these words.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_pages import PAGES, PASSWORD, PG_ADMIN, prepare  # noqa: E402
from load import PY_SPY  # noqa: E402
from profile_summary import summarise  # noqa: E402

PG_NAME = "pf_prof_library"


def ready(data: Path, backend: str) -> tuple[str | None, dict[str, int], str]:
    """(database URL, collection ids, a saved paper) of the prepared store, made if missing."""
    db_url = None
    if backend == "postgres":
        import psycopg

        db_url = PG_ADMIN.rpartition("/")[0] + "/" + PG_NAME
    meta = data / f"library_profile_{backend}.json"
    if meta.exists():
        found = json.loads(meta.read_text())
        return db_url, found["collections"], found["paper"]
    if backend == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_NAME}")
    collections, paper = prepare(data / backend, 10_000, db_url)
    meta.write_text(json.dumps({"collections": collections, "paper": paper}))
    return db_url, collections, paper


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--py-spy", help="sample each page into PREFIX-<page>.txt")
    ap.add_argument("pages", nargs="*")
    args = ap.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    db_url, collections, paper = ready(args.data_dir, args.backend)

    from fastapi.testclient import TestClient

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    settings = load_settings(
        data_dir=args.data_dir / args.backend, secret_key="bench-secret-key", database_url=db_url
    )
    with TestClient(create_app(settings)) as http:
        token = http.post("/api/session", json={"email": "big@example.org", "password": PASSWORD})
        http.headers["Authorization"] = f"Bearer {token.json()['token']}"
        deadline = time.monotonic() + 600  # let "for you" finish training first
        while time.monotonic() < deadline:
            r = http.get("/api/recommendations?limit=1")
            if r.headers.get("x-recommendations-updating") != "true":
                break
            time.sleep(0.5)
        print(f"{args.backend}, {args.n} requests per page, load {os.getloadavg()[0]:.1f}")
        print("| page | CPU ms per request | wall ms per request |")
        print("|---|---|---|")
        for name, path in PAGES:
            if args.pages and not any(w in name for w in args.pages):
                continue
            url = path.format(c=collections["big"], paper=paper)
            assert http.get(url).status_code == 200, url  # first view: fill caches
            spy = None
            if args.py_spy:
                slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
                out = f"{args.py_spy}-{args.backend}-{slug}.txt"
                spy = subprocess.Popen(
                    [PY_SPY, "record", "--pid", str(os.getpid()), "--format", "raw"]
                    + ["--rate", "500", "--output", out, "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
            c, t = time.process_time(), time.perf_counter()
            for _ in range(args.n):
                http.get(url)
            cpu = (time.process_time() - c) * 1000 / args.n
            wall = (time.perf_counter() - t) * 1000 / args.n
            print(f"| {name} | {cpu:.1f} | {wall:.1f} |", flush=True)
            if spy is not None:
                spy.send_signal(2)
                spy.wait()
                totals = summarise([Path(out)])
                n = sum(totals.values()) or 1
                for stage, count in totals.most_common(6):
                    print(f"|   {100 * count / n:.0f}% {stage} | | |")


if __name__ == "__main__":
    main()
