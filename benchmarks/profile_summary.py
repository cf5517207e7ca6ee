"""Where a server's CPU time went: py-spy collapsed stacks grouped by stage.

    python benchmarks/profile_summary.py PROFILE.txt [...]

Reads `py-spy record --format raw` output (one `frame;frame;... count` line per stack, as
`benchmarks/load.py --py-spy` writes) and assigns every sample to the stage of its innermost
frame that belongs to a known stage (so time in SQLite's C code counts for the store function
that called it, time in a Jinja filter for that filter). Prints the share of samples per stage.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# (stage, pattern on one frame "function (file:line)"); the first stage whose pattern
# matches the innermost frame wins, walking outwards.
STAGES: list[tuple[str, re.Pattern[str]]] = [
    (stage, re.compile(pattern))
    for stage, pattern in [
        ("tokenization (analyzer: coverage terms, highlighting)", r"^analyze \(|_terms_of"),
        (
            "query embedding (ONNX/static model)",
            r"onnxruntime|tokenizers|model2vec|search/embed\.py",
        ),
        ("vector search (usearch/numpy)", r"search/(vectors|dense)\.py|usearch|numpy"),
        ("keyword search (tantivy)", r"search/keyword\.py|tantivy"),
        ("fusion + coverage re-rank", r"search/(fusion|pipeline)\.py"),
        ("highlighting / snippets", r"search/snippets\.py"),
        ("search service (cache, glue)", r"search/(service|cache|indexer|results)\.py"),
        ("store reads (SQL + row decoding)", r"paperfeed/store/|sqlite3|psycopg"),
        ("page cache", r"web/pagecache\.py"),
        ("Jinja rendering", r"jinja2|markupsafe|\.html:|web/templating\.py"),
        ("JSON encoding", r"orjson|json/"),
        ("CSRF / sessions", r"web/security\.py|itsdangerous|hmac|hashlib|accounts\.py"),
        ("route code (web/, daily, trending)", r"paperfeed/"),
        ("FastAPI / Starlette / pydantic", r"fastapi|starlette|pydantic|anyio"),
        ("uvicorn / HTTP parsing / asyncio", r"uvicorn|httptools|h11|asyncio|selectors"),
        ("threads / other", r"."),
    ]
]
_COUNT = re.compile(r"^(.*) (\d+)$")


def stage_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for stage, pattern in STAGES:
            if stage != "threads / other" and pattern.search(frame):
                return stage
    return "threads / other"


def summarise(paths: list[Path]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            m = _COUNT.match(line)
            if m:
                totals[stage_of(m.group(1))] += int(m.group(2))
    return totals


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        raise SystemExit(__doc__)
    totals = summarise(paths)
    n = sum(totals.values()) or 1
    print(f"{sum(totals.values())} samples in {', '.join(p.name for p in paths)}")
    for stage, count in totals.most_common():
        print(f"  {100 * count / n:5.1f}%  {stage}")


if __name__ == "__main__":
    main()
