"""Which parser reads an input, decided from its first bytes (never from its name)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import IO

from paperfeed.errors import UnknownFormat
from paperfeed.ingest.records import Record, Rejected

Parser = Callable[[IO[bytes], str], Iterator[Record | Rejected]]


class SourceError(Exception):
    """A whole input is unreadable from some point on (corrupt gzip, truncated XML)."""


def detect_format(head: bytes, source: str) -> str:
    """One of 'jsonl', 'hf_daily', 'oai_pmh', 'arxiv_api', 'arxiv_rss', 'arxiv_atom'."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:65536]
    if text.startswith(b"{"):
        return "jsonl"
    if text.startswith(b"["):
        return "hf_daily"
    if text.startswith(b"<"):
        if b"<OAI-PMH" in text:
            return "oai_pmh"
        if re.search(rb"<rss[\s>]", text) or b"<rdf:RDF" in text:
            return "arxiv_rss"
        if re.search(rb"<feed[\s>]", text):
            if b"opensearch" in text or b"arxiv.org/api" in text:
                return "arxiv_api"
            return "arxiv_atom"
    if not text:
        raise UnknownFormat(f"{source}: empty input")
    raise UnknownFormat(
        f"{source}: not a known format (expected JSONL, HF daily_papers JSON, "
        "arXiv API Atom, OAI-PMH or RSS/Atom XML)"
    )


def parser_for(name: str) -> Parser:
    """The parse function for a detected format name."""
    if name == "jsonl":
        from paperfeed.ingest.jsonl import parse_jsonl

        return parse_jsonl
    if name == "hf_daily":
        from paperfeed.ingest.hf_daily import parse_hf_daily

        return parse_hf_daily
    if name == "oai_pmh":
        from paperfeed.ingest.oai_pmh import parse_oai_pmh

        return parse_oai_pmh
    if name == "arxiv_api":
        from paperfeed.ingest.arxiv_api import parse_arxiv_api

        return parse_arxiv_api
    if name in ("arxiv_rss", "arxiv_atom"):
        from paperfeed.ingest.arxiv_rss import parse_arxiv_feed

        return parse_arxiv_feed
    raise UnknownFormat(f"no parser for format {name!r}")
