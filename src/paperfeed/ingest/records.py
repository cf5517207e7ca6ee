"""What a parser yields: a record to keep, or a rejected entry with its reason.

The bottom of `ingest/`: every parser imports from here, nothing here imports a parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO

from paperfeed.ingest.ids import normalize_arxiv_id
from paperfeed.ingest.links import find_urls, github_repo, project_page
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


Parser = Callable[[IO[bytes], str], Iterator["Record | Rejected"]]
"""Reads one input (a stream and its name for messages) into records and rejections."""


class SourceError(Exception):
    """A whole input is unreadable from some point on (corrupt gzip, truncated XML)."""


class BadRecord(ValueError):
    """Raised by the field helpers below; the parser turns it into a `Rejected`."""


def parse_time(value: object, name: str = "timestamp") -> datetime | None:
    """An ISO-8601 date or time as an aware UTC datetime (None when absent)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord(f"bad {name} {_shown(value)}")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord(f"bad {name} {_shown(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: object, name: str = "date") -> date | None:
    stamp = parse_time(value, name)
    return stamp.date() if stamp else None


def optional_text(value: object, name: str) -> str | None:
    """A text field: None when absent or blank; BadRecord when it is not a string."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{name} is not a string: {_shown(value)}")
    return value.strip() or None


def text_list(value: object, name: str) -> list[str]:
    """A list of strings (authors, categories); BadRecord for any other shape."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRecord(f"{name} is not a list of strings: {_shown(value)}")
    return value


def count(value: object, name: str) -> int:
    """A non-negative integer count (upvotes, comments); absent is 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**62:
        raise BadRecord(f"bad {name} {_shown(value)}")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*|\n[ \t]+(?=\S)")


def paragraphs(text: str) -> str:
    """Hard-wrapped text with its paragraphs kept, joined by one blank line.

    arXiv abstracts start each new paragraph on a line indented by spaces; other sources
    separate paragraphs by a blank line. Lines inside a paragraph are unwrapped.
    """
    if "\n" not in text:  # one paragraph (most JSON abstracts)
        # Every whitespace character but " " is unprintable: a printable text without double
        # or outer spaces is already tidy, and this check costs half of re-joining its words.
        if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text
        return " ".join(text.split())
    parts = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text.strip()))
    return "\n\n".join(p for p in parts if p)


def make_paper(
    *,
    raw_id: object,
    title: object,
    abstract: object,
    authors: object = None,
    version: object = None,
    categories: object = None,
    primary_category: object = None,
    published: datetime | None = None,
    updated: datetime | None = None,
    comment: object = None,
    journal_ref: object = None,
    doi: object = None,
    github_url: object = None,
    project_page_url: object = None,
    listing_date: date | None = None,
    notes: list[str] | None = None,
) -> Paper:
    """Validate and normalise the fields every format shares into a `Paper`.

    Every field's type is checked here: a field of the wrong type rejects the record
    (BadRecord names the field), so nothing malformed reaches the store. A link field that is
    not an http(s) URL (`javascript:...`, a number, an object) is only dropped, with the
    reason appended to `notes`; the paper is kept.
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
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 10_000
    ):
        raise BadRecord(f"bad version {_shown(version)}")
    names = text_list(authors, "authors")
    cats = [c.strip() for c in dict.fromkeys(text_list(categories, "categories")) if c.strip()]
    primary = optional_text(primary_category, "primary_category") or (cats[0] if cats else None)
    comment = optional_text(comment, "comment")
    journal_ref = optional_text(journal_ref, "journal_ref")
    doi = optional_text(doi, "doi")
    if primary and primary in cats:
        cats.remove(primary)
    if primary:
        cats.insert(0, primary)
    urls = [url for text in (abstract, comment) for url in find_urls(text)]
    for name, value in (("github_url", github_url), ("project_page", project_page_url)):
        problem = link_problem(name, value)
        if problem and notes is not None:
            notes.append(problem)
    return Paper(
        id=paper_id,
        version=version or id_version or 1,
        title=" ".join(title.split()),
        abstract=paragraphs(abstract),  # unwrap hard line breaks, keep paragraphs; LaTeX kept
        authors=[" ".join(a.split()) for a in names if a.strip()],
        primary_category=primary,
        categories=cats,
        published=published,
        updated=updated or published,
        comment=comment,
        journal_ref=journal_ref,
        doi=doi,
        github_url=http_url(github_url) or github_repo(urls),
        project_page=http_url(project_page_url) or project_page(urls),
        listing_date=listing_date,
    )
