"""The input formats paperfeed imports: one table of name, sniffing function and parser.

An input's format is decided from its first bytes, never from its name: the first source
whose `sniff` accepts them parses it. To add a source, write a module beside the others
with `sniff(head) -> bool` and a parser (`records.Parser`), then add one line to `SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from paperfeed.errors import UnknownFormat
from paperfeed.ingest import arxiv_api, arxiv_rss, hf_daily, jsonl, oai_pmh
from paperfeed.ingest.records import Parser

HEAD_BYTES = 65536  # how much of an input the sniffing functions see


@dataclass(frozen=True, slots=True)
class Source:
    """One importable format."""

    name: str
    sniff: Callable[[bytes], bool]  # the input's first bytes (BOM and blank space removed)
    parse: Parser


SOURCES: tuple[Source, ...] = (
    Source("jsonl", jsonl.sniff, jsonl.parse_jsonl),
    Source("hf_daily", hf_daily.sniff, hf_daily.parse_hf_daily),
    Source("oai_pmh", oai_pmh.sniff, oai_pmh.parse_oai_pmh),
    Source("arxiv_api", arxiv_api.sniff, arxiv_api.parse_arxiv_api),
    Source("arxiv_feed", arxiv_rss.sniff, arxiv_rss.parse_arxiv_feed),
)


def detect_source(head: bytes, name: str) -> Source:
    """The source whose sniffing function accepts `head`; UnknownFormat when none does."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:HEAD_BYTES]
    if not text:
        raise UnknownFormat(f"{name}: empty input")
    for source in SOURCES:
        if source.sniff(text):
            return source
    raise UnknownFormat(
        f"{name}: not a known format (expected JSONL, HF daily_papers JSON, "
        "arXiv API Atom, OAI-PMH or RSS/Atom XML)"
    )
