"""Build the bundled sample corpus from the shared HF daily-papers file.

    python scripts/build_sample.py ../shared/data/hf_daily_papers_2404589803_2024-2026.jsonl.gz \
        --corpus '../shared/data/arxiv_cs_daily_2024-2026.part-*.jsonl.gz'

HF records carry no arXiv categories, so each paper found (by arXiv id) in the shared cs
corpus gets that corpus's `categories` and `primary_category` (the category filter and the
thumbnails need them); papers the corpus lacks stay without.

Keeps the arXiv metadata (CC0), upvotes, comment counts, daily dates and code/project links;
drops HF's AI-generated `hf_ai_summary` / `hf_ai_keywords` and capture bookkeeping.
Writes src/paperfeed/sample/papers.jsonl.gz deterministically (sorted, fixed gzip mtime).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
from pathlib import Path

FROM_CORPUS = ("categories", "primary_category")
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


def enrich(records: list[dict], corpus_files: list[str]) -> None:
    """Add categories from the corpus to every record whose arXiv id it holds."""
    if not corpus_files:
        raise SystemExit("--corpus matched no files")
    by_id = {r["arxiv_id"]: r for r in records}
    found = 0
    for path in corpus_files:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                target = by_id.get(row.get("arxiv_id"))
                if target is None or "categories" in target:
                    continue
                cats = row.get("categories") or []
                if cats:
                    primary = row.get("primary_category") or cats[0]
                    target["categories"] = [primary, *[c for c in cats if c != primary]]
                    target["primary_category"] = primary
                    found += 1
    print(f"categories for {found} of {len(records)} papers from {len(corpus_files)} files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--corpus",
        default="",
        help="glob of shared arXiv corpus files to take categories from (by arXiv id)",
    )
    args = parser.parse_args()
    with gzip.open(args.source, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    kept = [{k: r[k] for k in KEEP if r.get(k) not in (None, "")} for r in records]
    if args.corpus:
        enrich(kept, sorted(glob.glob(args.corpus)))
    kept.sort(key=lambda r: (r.get("daily_date", ""), r["arxiv_id"]))
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for record in kept:
            gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"wrote {len(kept)} papers to {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
