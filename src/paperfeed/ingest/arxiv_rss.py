"""arXiv listing feeds: RSS 2.0 (`rss.arxiv.org/rss/CAT`) and Atom (`rss.arxiv.org/atom/CAT`).

Each item's description reads `arXiv:ID Announce Type: new|cross|replace|replace-cross
Abstract: ...`. Every announce type yields the paper; only `new` and `cross` items set the
listing date (the feed's day), since a replacement is not a first announcement.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from typing import IO

from paperfeed.ingest.arxiv_api import is_api_feed
from paperfeed.ingest.records import BadRecord, Record, Rejected, make_paper, parse_time
from paperfeed.ingest.xmltools import (
    ARXIV_ATOM,
    ATOM,
    DC,
    arxiv_categories,
    child_text,
    iter_elements,
    rfc822_time,
    split_authors,
    text,
)

_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*"
    r"(?:Abstract:\s*)?(?P<abstract>.*)",
    re.DOTALL,
)
LISTED_TYPES = {"new", "cross"}
_RSS_DATES = {"pubDate", "lastBuildDate"}


def _record(
    *,
    raw_id: str | None,
    title: str | None,
    description: str | None,
    categories: list[str],
    creators: str | None,
    announce_type: str | None,
    feed_day: date | None,
) -> Record:
    match = _DESCRIPTION.match(description or "")
    if match:
        raw_id, abstract = match["id"], match["abstract"]
        announce_type = announce_type or match["type"]
    else:
        abstract = description
    listed = (announce_type or "new") in LISTED_TYPES
    return Record(
        make_paper(
            raw_id=raw_id,
            title=title,
            abstract=abstract,
            authors=split_authors(creators),
            categories=arxiv_categories(categories),
            listing_date=feed_day if listed else None,
        )
    )


def _rss_item(item: ET.Element, feed_day: date | None) -> Record:
    return _record(
        raw_id=child_text(item, "guid") or child_text(item, "link"),
        title=child_text(item, "title"),
        description=child_text(item, "description"),
        categories=[text(c) or "" for c in item.findall("category")],
        creators=", ".join(text(c) or "" for c in item.findall(f"{DC}creator")),
        announce_type=child_text(item, f"{ARXIV_ATOM}announce_type"),
        feed_day=feed_day,
    )


def _atom_entry(entry: ET.Element, feed_day: date | None) -> Record:
    creators = [text(c) or "" for c in entry.findall(f"{DC}creator")]
    creators += [child_text(a, f"{ATOM}name") or "" for a in entry.findall(f"{ATOM}author")]
    published = child_text(entry, f"{ATOM}published")
    parse_time(published)  # validates it (raises BadRecord)
    return _record(
        raw_id=child_text(entry, f"{ATOM}id"),
        title=child_text(entry, f"{ATOM}title"),
        description=child_text(entry, f"{ATOM}summary"),
        categories=[c.get("term", "") for c in entry.findall(f"{ATOM}category")],
        creators=", ".join(c for c in creators if c),
        announce_type=child_text(entry, f"{ARXIV_ATOM}announce_type"),
        # The entry's own announcement time, in arXiv's (New York) offset, gives the day.
        feed_day=_local_day(published) if published else feed_day,
    )


def _local_day(stamp: str) -> date:
    """The calendar day of an ISO time in its own offset (not converted to UTC)."""
    return date.fromisoformat(stamp.strip()[:10])


def sniff(head: bytes) -> bool:
    """An RSS 2.0 / RDF listing feed, or an Atom one that is not an arXiv API answer."""
    if not head.startswith(b"<") or b"<OAI-PMH" in head:
        return False
    if re.search(rb"<rss[\s>]", head) or b"<rdf:RDF" in head:
        return True
    return re.search(rb"<feed[\s>]", head) is not None and not is_api_feed(head)


def parse_arxiv_feed(stream: IO[bytes], source: str) -> Iterator[Record | Rejected]:
    """Every item of an arXiv RSS 2.0 or Atom listing feed."""
    tags = {"item", f"{ATOM}entry", f"{ATOM}updated", *_RSS_DATES}
    feed_day: date | None = None
    day_is_final = False
    pending: list[tuple[int, ET.Element]] = []
    number = 0

    def convert(index: int, elem: ET.Element) -> Record | Rejected:
        try:
            if elem.tag == "item":
                return _rss_item(elem, feed_day)
            return _atom_entry(elem, feed_day)
        except BadRecord as exc:
            return Rejected(source, f"item {index}", str(exc))

    for elem in iter_elements(stream, source, tags):
        if elem.tag in _RSS_DATES or elem.tag == f"{ATOM}updated":
            if not day_is_final:
                value = text(elem)
                try:
                    if elem.tag == f"{ATOM}updated":
                        feed_day = _local_day(value or "")
                    else:
                        stamp = rfc822_time(value)
                        feed_day = stamp.date() if stamp else None
                except (BadRecord, ValueError):
                    continue
                # RSS: pubDate wins over lastBuildDate; Atom: the feed's <updated> comes
                # first, entries' own <updated> elements do not override it.
                day_is_final = elem.tag != "lastBuildDate"
            continue
        number += 1
        if feed_day is None:
            # The channel's date may follow the items: keep them until it is known.
            pending.append((number, ET.fromstring(ET.tostring(elem))))
            continue
        for index, held in pending:
            yield convert(index, held)
        pending.clear()
        yield convert(number, elem)
    for index, held in pending:
        yield convert(index, held)
