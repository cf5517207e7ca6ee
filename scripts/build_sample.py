"""Build the bundled sample corpus from the shared HF daily-papers file.

    python scripts/build_sample.py ../shared/data/hf_daily_papers_2404589803_2024-2026.jsonl.gz

Keeps the arXiv metadata (CC0), upvotes, comment counts, daily dates and code/project links;
drops HF's AI-generated `hf_ai_summary` / `hf_ai_keywords` and capture bookkeeping.
Writes src/paperfeed/sample/papers.jsonl.gz deterministically (sorted, fixed gzip mtime).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

KEEP = (
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "published",
    "daily_date",
    "submitted_on_daily_at",
    "upvotes",
    "num_comments",
    "github_url",
    "project_page",
)
OUT = Path(__file__).resolve().parent.parent / "src/paperfeed/sample/papers.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with gzip.open(args.source, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    kept = [{k: r[k] for k in KEEP if r.get(k) not in (None, "")} for r in records]
    kept.sort(key=lambda r: (r.get("daily_date", ""), r["arxiv_id"]))
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for record in kept:
            gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"wrote {len(kept)} papers to {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
