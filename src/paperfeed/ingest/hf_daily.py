"""Hugging Face `/api/daily_papers` JSON: papers plus their daily-list entries.

Both the current schema (`submittedOnDailyAt`, `submittedOnDailyBy`) and the 2024 one
(no submitter, the item's own `publishedAt` is when it was put on the list) are read.
HF's generated `ai_summary`/`ai_keywords` are ignored on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from paperfeed.ingest.formats import SourceError
from paperfeed.ingest.records import (
    BadRecord,
    Record,
    Rejected,
    count,
    make_paper,
    parse_date,
    parse_time,
)
from paperfeed.models import DailyEntry


def _submitter(item: dict[str, Any], paper: dict[str, Any]) -> str | None:
    for user in (paper.get("submittedOnDailyBy"), item.get("submittedBy")):
        if isinstance(user, dict):
            name = user.get("fullname") or user.get("name") or user.get("user")
            if isinstance(name, str) and name.strip():
                return name.strip()
    return None


def record_from_item(item: Any) -> Record:
    """One daily_papers item as a `Record` with its `DailyEntry` (raises BadRecord)."""
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise BadRecord("item has no 'paper' object")
    paper_obj: dict[str, Any] = item["paper"]
    authors = paper_obj.get("authors") or []
    if not isinstance(authors, list):
        raise BadRecord("authors is not a list")
    names = [a.get("name") for a in authors if isinstance(a, dict) and not a.get("hidden")]
    published = parse_time(paper_obj.get("publishedAt"), "publishedAt")
    notes: list[str] = []
    paper = make_paper(
        raw_id=paper_obj.get("id"),
        title=paper_obj.get("title") or item.get("title"),
        abstract=paper_obj.get("summary") or item.get("summary"),
        authors=names,
        published=published,
        github_url=paper_obj.get("githubRepo") or None,
        project_page_url=paper_obj.get("projectPage") or None,
        notes=notes,
    )
    submitted_at = parse_time(
        paper_obj.get("submittedOnDailyAt"), "submittedOnDailyAt"
    ) or parse_time(item.get("publishedAt"))
    day = parse_date(paper_obj.get("submittedOnDailyAt"), "submittedOnDailyAt") or parse_date(
        item.get("publishedAt"), "publishedAt"
    )
    if day is None:
        raise BadRecord("no daily date (submittedOnDailyAt or publishedAt)")
    daily = DailyEntry(
        paper_id=paper.id,
        day=day,
        submitted_by=_submitter(item, paper_obj),
        upvotes=count(paper_obj.get("upvotes"), "upvotes"),
        num_comments=count(item.get("numComments"), "numComments"),
        submitted_at=submitted_at,
    )
    return Record(paper, daily, notes)


def parse_hf_daily(stream: IO[bytes], source: str) -> Iterator[Record | Rejected]:
    try:
        items = orjson.loads(stream.read())
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"{source}: invalid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(items, list):
        raise SourceError(f"{source}: expected a JSON list of daily papers")
    for number, item in enumerate(items, start=1):
        try:
            yield record_from_item(item)
        except (BadRecord, TypeError, ValueError) as exc:
            yield Rejected(source, f"entry {number}", str(exc))
