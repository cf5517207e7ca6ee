"""The source registry: every real fixture is claimed by exactly one source, the right one."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from paperfeed.errors import UnknownFormat
from paperfeed.ingest.sources import HEAD_BYTES, SOURCES, detect_source

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("arxiv_api_query_all-science_2019-08-10.xml", "arxiv_api"),
        ("arxiv_atom_stat_2024-03-26.xml", "arxiv_feed"),
        ("arxiv_rss_stat_2024-03-26.xml", "arxiv_feed"),
        ("arxiv_oai_listrecords_arXivRaw_page1.xml", "oai_pmh"),
        ("arxiv_oai_listrecords_arXiv_set-cs_2015-01-16.xml", "oai_pmh"),
        ("hf_daily_papers_2024-05-27.json", "hf_daily"),
        ("hf_daily_papers_2026-07-09.json", "hf_daily"),
        ("hf_daily_sample.jsonl", "jsonl"),
        ("arxiv_cs_daily_sample_3000.jsonl.gz", "jsonl"),
    ],
)
def test_each_fixture_is_claimed_by_exactly_one_source(fixture: str, expected: str) -> None:
    raw = (FIXTURES / fixture).read_bytes()
    head = (gzip.decompress(raw) if fixture.endswith(".gz") else raw)[:HEAD_BYTES]
    claimed = [s.name for s in SOURCES if s.sniff(head.lstrip(b"\xef\xbb\xbf \t\r\n"))]
    assert claimed == [expected]
    assert detect_source(head, fixture).name == expected


def test_source_names_are_unique_and_unknown_input_is_refused() -> None:
    assert len({s.name for s in SOURCES}) == len(SOURCES)
    with pytest.raises(UnknownFormat, match="not a known format"):
        detect_source(b"%PDF-1.7", "paper.pdf")
    with pytest.raises(UnknownFormat, match="empty input"):
        detect_source(b"\xef\xbb\xbf  \n", "blank.txt")
