"""Streaming XML helpers shared by the arXiv API, OAI-PMH and RSS/Atom parsers.

Parsing is incremental (`xml.etree.ElementTree.iterparse`), so records read before a
truncation or syntax error are kept, and the error then becomes a `SourceError`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO

from paperfeed.ingest.records import BadRecord, SourceError

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_ATOM = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"

# arXiv taxonomy codes: cs.LG, math.AG, quant-ph, cond-mat.mtrl-sci, q-bio.NC, hep-th.
# MSC (`68T50`) and ACM (`I.2.7`) terms start with a digit or an upper-case letter.
ARXIV_CATEGORY = re.compile(r"[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")


def iter_elements(stream: IO[bytes], source: str, tags: set[str]) -> Iterator[ET.Element]:
    """Each complete element whose tag is in `tags`, in document order.

    The caller must finish with an element before asking for the next one: it is cleared
    afterwards to keep memory flat on large harvests.
    """
    parser = ET.iterparse(stream, events=("end",))
    try:
        for _event, elem in parser:
            if elem.tag in tags:
                yield elem
                elem.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        raise SourceError(
            f"{source}: malformed or truncated XML at line {line}, column {column}"
            " (records before it were kept)"
        ) from None


def text(elem: ET.Element | None) -> str | None:
    """The element's whole text content, whitespace-collapsed; None when empty or absent."""
    if elem is None:
        return None
    value = " ".join("".join(elem.itertext()).split())
    return value or None


def child_text(elem: ET.Element, tag: str) -> str | None:
    return text(elem.find(tag))


def raw_child_text(elem: ET.Element, tag: str) -> str | None:
    """The child's text with its line breaks (abstracts: `make_paper` finds paragraphs)."""
    found = elem.find(tag)
    value = "".join(found.itertext()) if found is not None else ""
    return value if value.strip() else None


def arxiv_categories(terms: list[str]) -> list[str]:
    """Keep arXiv taxonomy codes, drop MSC/ACM classification terms."""
    return [t for t in terms if ARXIV_CATEGORY.fullmatch(t)]


def split_authors(value: str | None) -> list[str]:
    """`"A, B and C"` -> `["A", "B", "C"]`; commas inside parentheses (affiliations) kept."""
    if not value:
        return []
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for char in " ".join(value.split()):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    result: list[str] = []
    for raw in names:
        for part in re.split(r"^and\s+|\s+and\s+(?![^()]*\))", raw.strip()):
            name = part.strip()
            if not name:
                continue
            if name.lower().rstrip(".") in {"jr", "sr", "ii", "iii", "iv"} and result:
                result[-1] += f", {name}"
            else:
                result.append(name)
    return result


def rfc822_time(value: str | None) -> datetime | None:
    """An RSS/e-mail style date (`Tue, 26 Mar 2024 00:00:00 -0400`), offset kept."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        raise BadRecord(f"bad date {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
