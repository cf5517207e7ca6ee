"""JSONL in the format of the shared corpus (`arxiv_id`, `title`, `abstract`, ...).

HF daily-paper records in that format (`daily_date`, `upvotes`, `github_url`) also put the
paper on the daily list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from paperfeed.ingest.records import (
    BadRecord,
    Record,
    Rejected,
    make_paper,
    parse_date,
    parse_time,
)
from paperfeed.models import DailyEntry


def record_from_json(obj: Any) -> Record:
    """One shared-corpus JSON object as a `Record` (raises BadRecord)."""
    if not isinstance(obj, dict):
        raise BadRecord("not a JSON object")
    authors = obj.get("authors") or []
    if not isinstance(authors, list):
        raise BadRecord("authors is not a list")
    version = obj.get("version")
    listing = parse_date(obj.get("listing_date") or obj.get("daily_date"))
    notes: list[str] = []
    paper = make_paper(
        raw_id=obj.get("arxiv_id") or obj.get("id"),
        title=obj.get("title"),
        abstract=obj.get("abstract") or obj.get("summary"),
        authors=[a if isinstance(a, str) else str(a.get("name", "")) for a in authors],
        version=version if isinstance(version, int) else None,
        categories=obj.get("categories") or [],
        primary_category=obj.get("primary_category"),
        published=parse_time(obj.get("published")),
        updated=parse_time(obj.get("updated")),
        comment=obj.get("comment"),
        journal_ref=obj.get("journal_ref"),
        doi=obj.get("doi"),
        github_url=obj.get("github_url"),
        project_page_url=obj.get("project_page"),
        listing_date=listing,
        notes=notes,
    )
    daily = None
    if obj.get("daily_date") or "upvotes" in obj:
        day = parse_date(obj.get("daily_date")) or (paper.published and paper.published.date())
        if day:
            daily = DailyEntry(
                paper_id=paper.id,
                day=day,
                upvotes=int(obj.get("upvotes") or 0),
                num_comments=int(obj.get("num_comments") or 0),
                submitted_at=parse_time(obj.get("submitted_on_daily_at")),
                submitted_by=obj.get("submitted_by"),
            )
    return Record(paper, daily, notes)


def parse_jsonl(stream: IO[bytes], source: str) -> Iterator[Record | Rejected]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield record_from_json(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield Rejected(source, f"line {number}", f"invalid JSON ({exc.msg})")
        except (BadRecord, TypeError, ValueError) as exc:
            yield Rejected(source, f"line {number}", str(exc))
