"""Hugging Face `/api/daily_papers` JSON: papers plus their daily-list entries.

Both the current schema (`submittedOnDailyAt`, `submittedOnDailyBy`) and the 2024 one
(no submitter, the item's own `publishedAt` is when it was put on the list) are read.
HF's generated `ai_summary`/`ai_keywords` are ignored on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from paperfeed.ingest.records import (
    BadRecord,
    Record,
    Rejected,
    SourceError,
    count,
    make_paper,
    parse_date,
    parse_time,
)
from paperfeed.models import DailyEntry
from paperfeed.urls import http_url

HF_SITE = "https://huggingface.co"


def _submitter(item: dict[str, Any], paper: dict[str, Any]) -> tuple[str | None, ...]:
    """(username, full name, avatar URL) of who put the paper on the daily list.

    HF sends `{_id, name: <username>, user: <username>, fullname, avatarUrl}`; both the
    username and the full name are kept. Avatars relative to HF are made absolute.
    """
    for user in (paper.get("submittedOnDailyBy"), item.get("submittedBy")):
        if not isinstance(user, dict):
            continue
        username = user.get("user") or user.get("name")
        fullname = user.get("fullname")
        if not isinstance(username, str) or not username.strip():
            username = fullname  # older exports had only a display name
        if not isinstance(username, str) or not username.strip():
            continue
        full = fullname.strip() if isinstance(fullname, str) and fullname.strip() else None
        avatar = user.get("avatarUrl")
        if isinstance(avatar, str) and avatar.startswith("/"):
            avatar = HF_SITE + avatar
        return username.strip(), full, http_url(avatar)
    return None, None, None


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
    submitted_by, fullname, avatar = _submitter(item, paper_obj)
    daily = DailyEntry(
        paper_id=paper.id,
        day=day,
        submitted_by=submitted_by,
        submitter_fullname=fullname,
        submitter_avatar=avatar,
        upvotes=count(paper_obj.get("upvotes"), "upvotes"),
        num_comments=count(item.get("numComments"), "numComments"),
        submitted_at=submitted_at,
    )
    return Record(paper, daily, notes)


def sniff(head: bytes) -> bool:
    """A JSON list (the `/api/daily_papers` answer)."""
    return head.startswith(b"[")


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
