"""arXiv API (`export.arxiv.org/api/query`) Atom responses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from paperfeed.ingest.records import (
    BadRecord,
    Record,
    Rejected,
    SourceError,
    make_paper,
    parse_time,
)
from paperfeed.ingest.xmltools import (
    ARXIV_ATOM,
    ATOM,
    arxiv_categories,
    child_text,
    iter_elements,
    raw_child_text,
    text,
)


def record_from_entry(entry) -> Record:  # type: ignore[no-untyped-def]
    """One Atom `<entry>` of the API as a `Record` (raises BadRecord)."""
    primary = entry.find(f"{ARXIV_ATOM}primary_category")
    terms = [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    paper = make_paper(
        raw_id=child_text(entry, f"{ATOM}id"),
        title=child_text(entry, f"{ATOM}title"),
        abstract=raw_child_text(entry, f"{ATOM}summary"),
        authors=[text(a.find(f"{ATOM}name")) or "" for a in entry.findall(f"{ATOM}author")],
        categories=arxiv_categories(terms),
        primary_category=primary.get("term") if primary is not None else None,
        published=parse_time(child_text(entry, f"{ATOM}published")),
        updated=parse_time(child_text(entry, f"{ATOM}updated")),
        comment=child_text(entry, f"{ARXIV_ATOM}comment"),
        journal_ref=child_text(entry, f"{ARXIV_ATOM}journal_ref"),
        doi=child_text(entry, f"{ARXIV_ATOM}doi"),
    )
    return Record(paper)


def sniff(head: bytes) -> bool:
    """An Atom feed from the arXiv API (it carries OpenSearch counts)."""
    return is_api_feed(head)


def is_api_feed(head: bytes) -> bool:
    """An Atom `<feed>` with the arXiv API's OpenSearch namespace or its self link."""
    return (
        head.startswith(b"<")
        and re.search(rb"<feed[\s>]", head) is not None
        and (b"opensearch" in head or b"arxiv.org/api" in head)
        and not (re.search(rb"<rss[\s>]", head) or b"<rdf:RDF" in head or b"<OAI-PMH" in head)
    )


def parse_arxiv_api(stream: IO[bytes], source: str) -> Iterator[Record | Rejected]:
    """Every `<entry>` of an API response; an API error entry fails the whole input."""
    for number, entry in enumerate(iter_elements(stream, source, {f"{ATOM}entry"}), start=1):
        entry_id = child_text(entry, f"{ATOM}id") or ""
        if "/api/errors" in entry_id:
            reason = child_text(entry, f"{ATOM}summary") or "unknown error"
            raise SourceError(f"{source}: arXiv API error: {reason}")
        try:
            yield record_from_entry(entry)
        except BadRecord as exc:
            yield Rejected(source, f"entry {number} ({entry_id or 'no id'})", str(exc))
