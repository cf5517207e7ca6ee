"""A reader with 10,000 saved papers: how fast are their pages? (No timed test; this is it.)

    nice -n 10 .venv/bin/python benchmarks/library_pages.py [--papers 10000] [--requests 30]
        [--backend sqlite|postgres|all] [--lock /work/bench.lock]

Loads the real HF daily-papers corpora of ../shared/data (~10.4k papers) into a temp data
directory, builds the search index, signs up two readers, saves 10,000 papers into one
reader's collection (plus 300 upvotes and 300 read marks) and 10 papers into the other's,
then serves the app with uvicorn on 127.0.0.1 and times each page over real HTTP with the
reader's session: median and p95 of `--requests` requests, and the ratio to the same page
for the 10-paper reader, measured in the same run (the baseline). The big reader also has
300 notes; both follow two categories and the three most prolific authors of the last 30
days, so the library, paper and followed-feed pages carry their full state. Exports of the
whole 10,000-paper collection are timed separately (a few requests each: they are downloads
of megabytes, not pages).

`--backend postgres` (or `all`) runs the same on PostgreSQL ($PAPERFEED_BENCH_PG, default
postgresql://127.0.0.1:5432/test): a fresh database `pf_bench_<pid>` is made and dropped.
`--lock PATH` holds an exclusive flock on PATH only while timing (not while loading the
corpus and building the index), as the shared bench lock asks; `uptime` is printed then.

The search index uses the static embedder only (`PAPERFEED_EMBEDDER=static`, as the tests
do): this measures the pages, not a transformer backfill, which would take most of the run.
The "for you" rows are timed after the reader's list is trained (the first request starts
the training in the background; the benchmark waits for it, then times).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA  # noqa: E402

CORPORA = [
    DATA / "hf_daily_papers_2404589803_2024-2026.jsonl.gz",
    DATA / "hf_daily_papers_paperexplorer_2023-2024.jsonl.gz",
]
PASSWORD = "correct horse battery"
os.environ.setdefault("PAPERFEED_EMBEDDER", "static")
PG_ADMIN = os.environ.get("PAPERFEED_BENCH_PG", "postgresql://127.0.0.1:5432/test")


@contextmanager
def database(backend: str) -> Iterator[str | None]:
    """PAPERFEED_DATABASE_URL of a fresh store on `backend` (None: SQLite in the data dir)."""
    if backend == "sqlite":
        yield None
        return
    import psycopg

    name = f"pf_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def bench_lock(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(path, "a") as fh:
        t = time.perf_counter()
        fcntl.flock(fh, fcntl.LOCK_EX)
        print(f"(waited {time.perf_counter() - t:.0f}s for {path})", file=sys.stderr)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def uptime() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepare(data: Path, n_papers: int, db_url: str | None) -> tuple[dict[str, int], str]:
    from paperfeed import accounts, library
    from paperfeed.ingest import ingest_sources
    from paperfeed.recommend.service import default_since
    from paperfeed.search import open_search
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=data, secret_key="bench-secret-key", database_url=db_url)
    store = open_store(settings)
    try:
        ingest_sources(store, [str(p) for p in CORPORA])
        t = time.perf_counter()
        search = open_search(settings, store, background=False)
        search.rebuild()
        search.close()
        print(f"index built in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        ids = [p.paper.id for p in store.list_papers(limit=n_papers + 100)]
        assert len(ids) >= n_papers, f"only {len(ids)} papers"
        big = accounts.add_user(store, email="big@example.org", password=PASSWORD, role="user")
        small = accounts.add_user(store, email="small@example.org", password=PASSWORD, role="user")
        cb = library.create_collection(store, big, "Everything", public=True)
        cs = library.create_collection(store, small, "A few", public=True)
        t = time.perf_counter()
        for pid in ids[:n_papers]:
            store.add_to_collection(cb.id, pid)
        for pid in ids[:10]:
            store.add_to_collection(cs.id, pid)
        for pid in ids[:300]:
            store.add_vote(user_id=big.id, paper_id=pid)
            store.set_read(user_id=big.id, paper_id=pid, read=True)
            store.set_note(user_id=big.id, paper_id=pid, body=f"note on {pid}: worth a re-read")
        for pid in ids[:3]:
            store.set_note(user_id=small.id, paper_id=pid, body=f"note on {pid}")
        # follows: two categories and the three most prolific authors of the last 30 days
        recent = store.recent_daily(since=default_since(store), limit=3000)
        authors = Counter(a for i in recent for a in i.paper.authors).most_common(3)
        for u in (big, small):
            for kind, value in [("category", "cs.CL"), ("category", "cs.CV")] + [
                ("author", a) for a, _ in authors
            ]:
                library.follow(store, u, kind, value)
        print(f"saved {n_papers} papers in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        return {"big": cb.id, "small": cs.id}, ids[0]
    finally:
        store.close()


def serve(data: Path, db_url: str | None) -> tuple[str, object]:
    import uvicorn

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    settings = load_settings(data_dir=data, secret_key="bench-secret-key", database_url=db_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server


def client(url: str, email: str) -> httpx.Client:
    token = httpx.post(
        url + "/api/session", json={"email": email, "password": PASSWORD}, timeout=120
    )
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token.json()['token']}"}, timeout=120
    )


def trained(http: httpx.Client) -> None:
    """Wait until the reader's "for you" list is no longer being retrained."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        r = http.get("/api/recommendations?limit=1")
        if r.headers.get("x-recommendations-updating") != "true":
            return
        time.sleep(0.5)


def timed(http: httpx.Client, path: str, n: int) -> tuple[float, float, float]:
    """(first, median, p95) milliseconds of GET `path`."""
    if "for-you" in path or "recommendations" in path:
        trained(http)
    times = []
    for _ in range(n + 1):
        t = time.perf_counter()
        r = http.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    first, rest = times[0], sorted(times[1:])
    return first, statistics.median(rest), rest[int(0.95 * (len(rest) - 1))]


PAGES = [
    ("collection page, first 50", "/collections/{c}"),
    ("collection page 100 (papers 5001-5050)", "/collections/{c}?p=100"),
    ("collection last page (papers 9951-10000)", "/collections/{c}?p=199"),
    ("collection feed (RSS)", "/collections/{c}/feed.xml"),
    ("collection API, first 50", "/api/collections/{c}"),
    ("collection API, page 100", "/api/collections/{c}?p=100"),
    ("collections API listing", "/api/collections"),
    ("more like this collection API", "/api/collections/{c}/similar"),
    ("library page (collections, follows, notes)", "/library"),
    ("paper page (signed in; saved, read, noted)", "/papers/{paper}"),
    ("paper library state API (read mark, note)", "/api/papers/{paper}/library"),
    ("note API", "/api/papers/{paper}/note"),
    ("followed feed page", "/feed"),
    ("for you page", "/for-you"),
    ("recommendations API", "/api/recommendations?limit=20"),
    ("daily page (signed in)", "/"),
    ("daily export (BibTeX, latest day)", "/api/export/daily?format=bibtex"),
    ("search export (BibTeX, 100 results)", "/api/export/search?q=language+models&format=bibtex"),
]
EXPORTS = ["bibtex", "ris", "csv"]


def run_backend(backend: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(backend) as db_url:
        data = Path(tmp) / "data"
        collections, paper = prepare(data, args.papers, db_url)
        url, server = serve(data, db_url)
        try:
            big, small = client(url, "big@example.org"), client(url, "small@example.org")
            for warm in (big, small):  # start training; the timed rows wait for it
                warm.get("/for-you")
            with bench_lock(args.lock):
                measure(backend, args, big, small, collections, paper)
        finally:
            server.should_exit = True  # type: ignore[attr-defined]


def measure(
    backend: str,
    args: argparse.Namespace,
    big: httpx.Client,
    small: httpx.Client,
    collections: dict[str, int],
    paper: str,
) -> None:
    print(f"\n## {backend}: load average at the start {uptime()}, {time.strftime('%H:%M:%S')}")
    print(
        f"\nreader with {args.papers} saved papers (300 upvoted, read and noted) vs a "
        f"reader with 10, {args.requests} requests each after a first one\n"
    )
    print("| page | first ms | median ms | p95 ms | baseline median ms | ratio |")
    print("|---|---|---|---|---|---|")
    for name, path in PAGES:
        if ("?p=100" in path and args.papers < 5050) or ("?p=199" in path and args.papers < 10_000):
            continue
        b = timed(big, path.format(c=collections["big"], paper=paper), args.requests)
        s_path = path.replace("?p=100", "").replace("?p=199", "")
        s = timed(small, s_path.format(c=collections["small"], paper=paper), args.requests)
        print(
            f"| {name} | {b[0]:.0f} | {b[1]:.1f} | {b[2]:.1f} | {s[1]:.1f} | {b[1] / s[1]:.2f} |",
            flush=True,
        )
    print(f"\nexports of all {args.papers} papers ({args.export_requests} requests each):\n")
    print("| format | median ms | max ms | MB |")
    print("|---|---|---|---|")
    for fmt in EXPORTS:
        times, size = [], 0
        for _ in range(args.export_requests):
            t = time.perf_counter()
            r = big.get(f"/api/collections/{collections['big']}/export?format={fmt}")
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (fmt, r.status_code)
            size = len(r.content)
        print(f"| {fmt} | {statistics.median(times):.0f} | {max(times):.0f} | {size / 1e6:.1f} |")
    print(f"\nload average at the end {uptime()}, {time.strftime('%H:%M:%S')}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--export-requests", type=int, default=3)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="sqlite")
    ap.add_argument("--lock", help="flock this file while timing (e.g. /work/bench.lock)")
    args = ap.parse_args()
    for backend in ["sqlite", "postgres"] if args.backend == "all" else [args.backend]:
        run_backend(backend, args)


if __name__ == "__main__":
    main()
