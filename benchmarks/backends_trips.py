"""PostgreSQL round trips per request of backends.py's mixed load, by kind of request.

    python benchmarks/backends_trips.py [--requests 400] [--pg postgresql://127.0.0.1:5432/test]

The app is built in-process (`create_app`, Starlette's TestClient) on a fresh PostgreSQL
database holding the same corpus as backends.py, and driven with the same request mix
(`backends.mixed_requests`: home, search page, paper page, upvote). psycopg is wrapped to
count, per request, the messages that each wait for the server's answer: statements
(`execute`; an `executemany` counts once), implicit BEGINs (the first statement of a
transaction), COMMITs and ROLLBACKs; and pool checkouts. Nothing is timed: the counts do not
move with the machine's load, so this needs no bench lock.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool

sys.path.insert(0, str(Path(__file__).parent))
import backends as b  # noqa: E402

COUNTS: Counter[str] = Counter()
CALLERS: Counter[str] = Counter()  # statements by the store method (outside store/) that ran them


def caller() -> str:
    """The outermost store function on the stack and who called it."""
    frame = sys._getframe(2)
    found = "?"
    while frame is not None:
        name = frame.f_code.co_filename
        if "paperfeed/store/" in name:
            found = frame.f_code.co_name
        elif found != "?":
            return f"{found} <- {Path(name).stem}.{frame.f_code.co_name}"
        frame = frame.f_back
    return found


def count_round_trips() -> None:
    """Wrap psycopg's blocking calls so that each adds to COUNTS."""
    cur_execute = psycopg.Cursor.execute
    cur_executemany = psycopg.Cursor.executemany
    commit = psycopg.Connection.commit
    rollback = psycopg.Connection.rollback
    getconn = psycopg_pool.ConnectionPool.getconn
    idle = psycopg.pq.TransactionStatus.IDLE

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self.connection
        if not conn.autocommit and conn.info.transaction_status == idle:
            COUNTS["BEGIN"] += 1
        COUNTS["statements"] += 1
        CALLERS[caller()] += 1
        return cur_execute(self, *args, **kwargs)

    def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self.connection
        if not conn.autocommit and conn.info.transaction_status == idle:
            COUNTS["BEGIN"] += 1
        COUNTS["statements"] += 1
        return cur_executemany(self, *args, **kwargs)

    def counted_commit(self: Any) -> Any:
        if self.info.transaction_status != idle:
            COUNTS["COMMIT"] += 1
        return commit(self)

    def counted_rollback(self: Any) -> Any:
        if self.info.transaction_status != idle:
            COUNTS["ROLLBACK"] += 1
        return rollback(self)

    def counted_getconn(self: Any, *args: Any, **kwargs: Any) -> Any:
        COUNTS["pool checkouts"] += 1
        return getconn(self, *args, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
    psycopg.Connection.rollback = counted_rollback  # type: ignore[method-assign]
    psycopg_pool.ConnectionPool.getconn = counted_getconn  # type: ignore[method-assign]


def kind_of(method: str, path: str) -> str:
    if method == "POST":
        return "upvote (POST /api/papers/<id>/upvote)"
    if path == "/":
        return "home (/)"
    if path.startswith("/search"):
        return "search page (/search?q=)"
    return "paper page (/papers/<id>)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--pg", default="postgresql://127.0.0.1:5432/test")
    ap.add_argument("--transformer", default="off")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    pg = b.PgBench(args.pg)
    tmp = Path(tempfile.mkdtemp(prefix="pf-trips-"))
    try:
        url = pg.new()
        b.load_corpus(tmp / "seed", url)
        users = b.tokens(tmp / "seed", url, 50, prefix="trips")
        settings = load_settings(
            data_dir=tmp / "inst",
            database_url=url,
            secret_key=b.SECRET,
            transformer=args.transformer,
            digest_time="",
        )
        app = create_app(settings)
        with TestClient(app, client=("127.0.0.1", 50000)) as http:
            ids = [p["id"] for p in http.get("/api/papers", params={"limit": 100}).json()]
            mix = b.mixed_requests(random.Random(11), ids, users)
            for method, path, headers in mix[:80]:  # warm up, as backends.py does
                http.request(method, path, headers=headers)
            count_round_trips()
            per_kind: dict[str, Counter[str]] = defaultdict(Counter)
            requests: Counter[str] = Counter()
            hits: Counter[str] = Counter()
            by_call: dict[str, Counter[str]] = defaultdict(Counter)
            for method, path, headers in mix[80 : 80 + args.requests]:
                COUNTS.clear()
                r = http.request(method, path, headers=headers)
                if r.status_code >= 400:
                    raise SystemExit(f"{method} {path}: {r.status_code}")
                kind = kind_of(method, path)
                requests[kind] += 1
                hits[kind] += r.headers.get("x-page-cache") == "hit"
                per_kind[kind].update(COUNTS)
                for name, c in CALLERS.items():
                    by_call[kind][name] += c
                CALLERS.clear()
        print(f"{sum(requests.values())} requests of the mixed load, in-process, PostgreSQL")
        print(
            f"{'request':<40} {'n':>4} {'cache hits':>10} {'round trips':>11} "
            f"{'statements':>10} {'BEGIN':>6} {'COMMIT':>6} {'checkouts':>9}"
        )
        total: Counter[str] = Counter()
        for kind in sorted(requests):
            n = requests[kind]
            c = per_kind[kind]
            total.update(c)
            trips = c["statements"] + c["BEGIN"] + c["COMMIT"] + c["ROLLBACK"]
            print(
                f"{kind:<40} {n:4d} {hits[kind] / n:10.0%} {trips / n:11.1f} "
                f"{c['statements'] / n:10.1f} {c['BEGIN'] / n:6.1f} {c['COMMIT'] / n:6.1f} "
                f"{c['pool checkouts'] / n:9.1f}"
            )
        n = sum(requests.values())
        trips = total["statements"] + total["BEGIN"] + total["COMMIT"] + total["ROLLBACK"]
        print(f"{'all':<40} {n:4d} {sum(hits.values()) / n:10.0%} {trips / n:11.1f}")
        print("statements per request, by store method <- caller:")
        for kind in sorted(requests):
            print(f"  {kind}")
            for name, c in by_call[kind].most_common():
                print(f"    {c / requests[kind]:5.1f}  {name}")
    finally:
        pg.drop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
