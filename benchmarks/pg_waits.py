"""Where an app process waited for PostgreSQL: py-spy samples spent in a round trip, by thread.

    python benchmarks/pg_waits.py PROFILE.txt [...]

Reads `py-spy record --format raw` output (as `benchmarks/backends.py --py-spy` writes) and
counts the samples whose stack is inside a psycopg call that waits for the server's answer
(a statement, a COMMIT), split into those on the event loop's thread (the loop, and every
request of the process with it, is stopped meanwhile) and those on worker threads; each
group by the two innermost paperfeed functions that made the call.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_COUNT = re.compile(r"^(.*) (\d+)$")
WAITING = ("Connection.wait", "_send_query_prepared", "Connection.commit")
EVENT_LOOP = "Server.run"  # uvicorn's loop: the thread that runs it


def caller(stack: str) -> str:
    ours = [f.split(" (")[0] for f in stack.split(";") if "paperfeed/" in f]
    return " < ".join(reversed(ours[-2:])) or "?"


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        raise SystemExit(__doc__)
    for path in paths:
        total = 0
        on_loop: Counter[str] = Counter()
        on_threads: Counter[str] = Counter()
        for line in path.read_text().splitlines():
            m = _COUNT.match(line)
            if not m:
                continue
            stack, n = m.group(1), int(m.group(2))
            total += n
            if any(w in stack for w in WAITING):
                (on_loop if EVENT_LOOP in stack else on_threads)[caller(stack)] += n
        total = max(total, 1)
        loop, threads = sum(on_loop.values()), sum(on_threads.values())
        print(
            f"{path.name}: {total} samples; waiting for PostgreSQL on the event loop "
            f"{100 * loop / total:.1f}%, on worker threads {100 * threads / total:.1f}%"
        )
        for name, n in on_loop.most_common(5):
            print(f"   loop    {100 * n / total:5.1f}%  {name}")
        for name, n in on_threads.most_common(8):
            print(f"   threads {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
