"""arXiv OAI-PMH `ListRecords` responses, `arXiv` and `arXivRaw` metadata formats.

`arXiv` gives structured authors and created/updated dates but no version number;
`arXivRaw` gives the full version history (the latest version is kept) and the author
list as one string. Deleted records are skipped. `resumption_token()` reads the token a
harvester needs to ask for the next page.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
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
    arxiv_categories,
    child_text,
    iter_elements,
    raw_child_text,
    rfc822_time,
    split_authors,
    text,
)

OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
HARMLESS_ERRORS = {"noRecordsMatch"}


def _categories(value: str | None) -> list[str]:
    return arxiv_categories((value or "").split())


def _from_arxiv(meta: ET.Element) -> Record:
    ns = ARXIV
    authors = []
    for author in meta.iter(f"{ns}author"):
        parts = [
            child_text(author, f"{ns}forenames"),
            child_text(author, f"{ns}keyname"),
            child_text(author, f"{ns}suffix"),
        ]
        authors.append(" ".join(p for p in parts if p))
    created = parse_time(child_text(meta, f"{ns}created"))
    return Record(
        make_paper(
            raw_id=child_text(meta, f"{ns}id"),
            title=child_text(meta, f"{ns}title"),
            abstract=raw_child_text(meta, f"{ns}abstract"),
            authors=authors,
            categories=_categories(child_text(meta, f"{ns}categories")),
            published=created,
            updated=parse_time(child_text(meta, f"{ns}updated")) or created,
            comment=child_text(meta, f"{ns}comments"),
            journal_ref=child_text(meta, f"{ns}journal-ref"),
            doi=child_text(meta, f"{ns}doi"),
        )
    )


def _from_arxiv_raw(meta: ET.Element) -> Record:
    ns = ARXIV_RAW
    versions = []
    for version in meta.findall(f"{ns}version"):
        label = (version.get("version") or "").lstrip("vV")
        if not label.isdigit():
            raise BadRecord(f"bad version label {version.get('version')!r}")
        versions.append((int(label), rfc822_time(child_text(version, f"{ns}date"))))
    versions.sort(key=lambda v: v[0])
    return Record(
        make_paper(
            raw_id=child_text(meta, f"{ns}id"),
            title=child_text(meta, f"{ns}title"),
            abstract=raw_child_text(meta, f"{ns}abstract"),
            authors=split_authors(child_text(meta, f"{ns}authors")),
            version=versions[-1][0] if versions else None,
            categories=_categories(child_text(meta, f"{ns}categories")),
            published=versions[0][1] if versions else None,
            updated=versions[-1][1] if versions else None,
            comment=child_text(meta, f"{ns}comments"),
            journal_ref=child_text(meta, f"{ns}journal-ref"),
            doi=child_text(meta, f"{ns}doi"),
        )
    )


def record_from_oai(record: ET.Element) -> Record | None:
    """One OAI `<record>` as a `Record`; None for a deleted record (raises BadRecord)."""
    header = record.find(f"{OAI}header")
    if header is not None and header.get("status") == "deleted":
        return None
    metadata = record.find(f"{OAI}metadata")
    meta = metadata[0] if metadata is not None and len(metadata) else None
    if meta is None:
        raise BadRecord("record has no metadata")
    if meta.tag == f"{ARXIV}arXiv":
        return _from_arxiv(meta)
    if meta.tag == f"{ARXIV_RAW}arXivRaw":
        return _from_arxiv_raw(meta)
    raise BadRecord(f"unsupported metadata format {meta.tag} (use arXiv or arXivRaw)")


def sniff(head: bytes) -> bool:
    """An OAI-PMH response document."""
    return head.startswith(b"<") and b"<OAI-PMH" in head


def parse_oai_pmh(stream: IO[bytes], source: str) -> Iterator[Record | Rejected]:
    """Every live record of a ListRecords page; an OAI error response fails the input."""
    tags = {f"{OAI}record", f"{OAI}error"}
    for number, elem in enumerate(iter_elements(stream, source, tags), start=1):
        if elem.tag == f"{OAI}error":
            code = elem.get("code", "error")
            if code in HARMLESS_ERRORS:
                continue
            raise SourceError(f"{source}: OAI-PMH error {code}: {text(elem) or ''}".rstrip())
        identifier = child_text(elem, f"{OAI}header/{OAI}identifier") or "no identifier"
        try:
            record = record_from_oai(elem)
        except BadRecord as exc:
            yield Rejected(source, f"record {number} ({identifier})", str(exc))
            continue
        if record is not None:
            yield record


def resumption_token(page: bytes) -> str | None:
    """The non-empty `resumptionToken` of a ListRecords page, or None on the last page."""
    try:
        for elem in iter_elements(io.BytesIO(page), "page", {f"{OAI}resumptionToken"}):
            token = (elem.text or "").strip()
            return token or None
    except SourceError:
        return None
    return None
