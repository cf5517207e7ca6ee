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
    count,
    make_paper,
    optional_text,
    parse_date,
    parse_time,
)
from paperfeed.models import DailyEntry


def author_name(value: object) -> str:
    """An author given as a name or as an object with a `name` (HF style)."""
    if isinstance(value, dict):
        value = value.get("name")
    if not isinstance(value, str):
        raise BadRecord(f"authors: an entry is neither a name nor {{'name': ...}}: {value!r:.80}")
    return value


def record_from_json(obj: Any) -> Record:
    """One shared-corpus JSON object as a `Record` (raises BadRecord)."""
    if not isinstance(obj, dict):
        raise BadRecord("not a JSON object")
    authors = obj.get("authors") or []
    if not isinstance(authors, list):
        raise BadRecord("authors is not a list")
    listing = parse_date(obj.get("listing_date") or obj.get("daily_date"))
    notes: list[str] = []
    paper = make_paper(
        raw_id=obj.get("arxiv_id") or obj.get("id"),
        title=obj.get("title"),
        abstract=obj.get("abstract") or obj.get("summary"),
        authors=[author_name(a) for a in authors],
        version=obj.get("version"),
        categories=obj.get("categories"),
        primary_category=obj.get("primary_category"),
        published=parse_time(obj.get("published"), "published"),
        updated=parse_time(obj.get("updated"), "updated"),
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
        day = parse_date(obj.get("daily_date"), "daily_date") or (
            paper.published and paper.published.date()
        )
        if day:
            daily = DailyEntry(
                paper_id=paper.id,
                day=day,
                upvotes=count(obj.get("upvotes"), "upvotes"),
                num_comments=count(obj.get("num_comments"), "num_comments"),
                submitted_at=parse_time(obj.get("submitted_on_daily_at"), "submitted_on_daily_at"),
                submitted_by=optional_text(obj.get("submitted_by"), "submitted_by"),
            )
    return Record(paper, daily, notes)


def sniff(head: bytes) -> bool:
    """JSON Lines: the first object starts the input."""
    return head.startswith(b"{")


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
