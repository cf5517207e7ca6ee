"""A reader with 10,000 saved papers: how fast are their pages? (No timed test; this is it.)

    nice -n 10 .venv/bin/python benchmarks/library_pages.py [--papers 10000] [--requests 30]

Loads the real HF daily-papers corpora of ../shared/data (~10.4k papers) into a temp data
directory, builds the search index, signs up two readers, saves 10,000 papers into one
reader's collection (plus 300 upvotes and 300 read marks) and 10 papers into the other's,
then serves the app with uvicorn on 127.0.0.1 and times each page over real HTTP with the
reader's session: median and p95 of `--requests` requests, and the ratio to the same page
for the 10-paper reader, measured in the same run (the baseline).

The search index uses the static embedder only (`PAPERFEED_EMBEDDER=static`, as the tests
do): this measures the pages, not a transformer backfill, which would take most of the run.
The "for you" rows are timed after the reader's list is trained (the first request starts
the training in the background; the benchmark waits for it, then times).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
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


def prepare(data: Path, n_papers: int) -> tuple[dict[str, int], str]:
    from paperfeed import accounts, library
    from paperfeed.ingest import ingest_sources
    from paperfeed.search import open_search
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=data, secret_key="bench-secret-key")
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
        print(f"saved {n_papers} papers in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        return {"big": cb.id, "small": cs.id}, ids[0]
    finally:
        store.close()


def serve(data: Path) -> tuple[str, object]:
    import uvicorn

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    settings = load_settings(data_dir=data, secret_key="bench-secret-key")
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        collections, paper = prepare(data, args.papers)
        url, server = serve(data)
        try:
            big, small = client(url, "big@example.org"), client(url, "small@example.org")
            pages = [
                ("collection page, first 50", "/collections/{c}"),
                ("collection page 100 (papers 5001-5050)", "/collections/{c}?p=100"),
                ("collection feed (RSS)", "/collections/{c}/feed.xml"),
                ("collection API, first 50", "/api/collections/{c}"),
                ("library page", "/library"),
                ("paper page (signed in)", f"/papers/{paper}"),
                ("for you page", "/for-you"),
                ("recommendations API", "/api/recommendations?limit=20"),
                ("daily page (signed in)", "/"),
            ]
            t = time.perf_counter()
            first = big.get("/for-you")
            print(
                f"first /for-you after the signals changed: "
                f"{(time.perf_counter() - t) * 1000:.0f} ms "
                f"(updating: {first.headers.get('x-recommendations-updating', 'no')})"
            )
            print(
                f"\nreader with {args.papers} saved papers (300 upvoted, 300 read) vs a "
                f"reader with 10, {args.requests} requests each after a first one\n"
            )
            print("| page | first ms | median ms | p95 ms | baseline median ms | ratio |")
            print("|---|---|---|---|---|---|")
            for name, path in pages:
                if "?p=100" in path and args.papers < 5050:
                    continue
                b = timed(big, path.format(c=collections["big"]), args.requests)
                s_path = path.replace("?p=100", "").format(c=collections["small"])
                s = timed(small, s_path, args.requests)
                print(
                    f"| {name} | {b[0]:.0f} | {b[1]:.1f} | {b[2]:.1f} | {s[1]:.1f} "
                    f"| {b[1] / s[1]:.2f} |"
                )
            t = time.perf_counter()
            r = big.get(f"/api/collections/{collections['big']}/export?format=bibtex")
            print(
                f"\nexport of all {args.papers} papers as BibTeX: "
                f"{(time.perf_counter() - t) * 1000:.0f} ms, {len(r.content) / 1e6:.1f} MB"
            )
        finally:
            server.should_exit = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
