"""Top-10 ids of the product's own search for the dev + held-out queries, as JSON lines.

Run before and after a change to the search code to show that rankings did not move:

    python benchmarks/ranking_snapshot.py DATA_DIR > before.jsonl   # (old code)
    python benchmarks/ranking_snapshot.py DATA_DIR > after.jsonl    # (new code)
    diff before.jsonl after.jsonl

DATA_DIR is created on first use from the test fixtures (3,090 real papers) plus the HF daily
papers of ../shared/data when present; the static embedder, relevance sort.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from corpus import load_queries  # noqa: E402

SHARED = next(p / "shared" for p in ROOT.parents if (p / "shared" / "eval").is_dir())

from paperfeed.ingest import ingest_sources  # noqa: E402
from paperfeed.search import SearchService  # noqa: E402
from paperfeed.settings import load_settings  # noqa: E402
from paperfeed.store.sqlite import SqliteStore  # noqa: E402

SOURCES = [
    ROOT / "tests/fixtures/web_papers.jsonl",
    ROOT / "tests/fixtures/arxiv_cs_daily_sample_3000.jsonl.gz",
    SHARED / "data/hf_daily_papers_2404589803_2024-2026.jsonl.gz",
]


def main() -> None:
    data_dir = Path(sys.argv[1])
    fresh = not data_dir.exists()
    settings = load_settings(data_dir=data_dir)
    store = SqliteStore(settings.sqlite_path)
    if fresh:
        ingest_sources(store, [str(s) for s in SOURCES if s.exists()])
    service = SearchService(store, settings, background=False)
    queries = load_queries(SHARED / "eval/dev_queries.tsv") + load_queries(
        ROOT / "benchmarks/heldout_queries.tsv"
    )
    for q, _ in queries:
        ids = [h.paper_id for h in service.search(q, limit=10, with_papers=False)]
        print(json.dumps({"q": q, "ids": ids}))
    service.close()
    store.close()


if __name__ == "__main__":
    main()
