"""What a parser yields: a record to keep, or a rejected entry with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from paperfeed.ingest.ids import normalize_arxiv_id
from paperfeed.ingest.links import github_repo, project_page
from paperfeed.models import DailyEntry, Paper
from paperfeed.urls import http_url, link_problem


@dataclass(slots=True)
class Record:
    """One paper from an input, and its daily-list entry when the input carries one."""

    paper: Paper
    daily: DailyEntry | None = None
    notes: list[str] = field(default_factory=list)  # fields dropped, the paper kept


@dataclass(slots=True)
class Rejected:
    """An entry that could not be read; `where` is a line number or entry index."""

    source: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.reason}"


class BadRecord(ValueError):
    """Raised by the field helpers below; the parser turns it into a `Rejected`."""


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 date or time as an aware UTC datetime (None when absent)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadRecord(f"bad timestamp {value!r}")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord(f"bad timestamp {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: object) -> date | None:
    stamp = parse_time(value)
    return stamp.date() if stamp else None


def make_paper(
    *,
    raw_id: object,
    title: object,
    abstract: object,
    authors: list[str] | None = None,
    version: int | None = None,
    categories: list[str] | None = None,
    primary_category: str | None = None,
    published: datetime | None = None,
    updated: datetime | None = None,
    comment: str | None = None,
    journal_ref: str | None = None,
    doi: str | None = None,
    github_url: str | None = None,
    project_page_url: str | None = None,
    listing_date: date | None = None,
    notes: list[str] | None = None,
) -> Paper:
    """Validate and normalise the fields every format shares into a `Paper`.

    A link field that is not an http(s) URL (`javascript:...`, a number, an object) is
    dropped and the reason appended to `notes`; the paper is kept.
    """
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise BadRecord("missing arXiv id")
    try:
        paper_id, id_version = normalize_arxiv_id(raw_id)
    except ValueError as exc:
        raise BadRecord(str(exc)) from None
    if not isinstance(title, str) or not title.strip():
        raise BadRecord("missing title")
    if not isinstance(abstract, str) or not abstract.strip():
        raise BadRecord("missing abstract")
    cats = [c for c in dict.fromkeys(categories or []) if c]
    primary = primary_category or (cats[0] if cats else None)
    if primary and primary in cats:
        cats.remove(primary)
    if primary:
        cats.insert(0, primary)
    texts = [abstract, comment]
    for name, value in (("github_url", github_url), ("project_page", project_page_url)):
        problem = link_problem(name, value)
        if problem and notes is not None:
            notes.append(problem)
    return Paper(
        id=paper_id,
        version=version or id_version or 1,
        title=" ".join(title.split()),
        abstract=" ".join(abstract.split()),  # unwrap hard line breaks; LaTeX kept
        authors=[" ".join(a.split()) for a in authors or [] if a and a.strip()],
        primary_category=primary,
        categories=cats,
        published=published,
        updated=updated or published,
        comment=comment.strip() if comment else None,
        journal_ref=journal_ref.strip() if journal_ref else None,
        doi=doi.strip() if doi else None,
        github_url=http_url(github_url) or github_repo(texts),
        project_page=http_url(project_page_url) or project_page(texts),
        listing_date=listing_date,
    )
