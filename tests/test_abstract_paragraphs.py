"""Abstract paragraphs survive import and are rendered as paragraphs (issue 9, item 16).

arXiv starts each new abstract paragraph on an indented line; the lines inside a paragraph
are hard-wrapped. Real OAI-PMH records from the fixtures carry both.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from paperfeed.settings import load_settings
from paperfeed.web.app import create_app

OAI = "arxiv_oai_listrecords_arXiv_set-cs_2015-01-16.xml"
THREE_BREAKS = "1309.7543"  # spatially-coupled LDPC codes: two paragraphs
ONE_PARAGRAPH = "1101.4388"


class AbstractParagraphs(HTMLParser):
    """Collects the text of each <p> inside the element with id="abstract"."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.paragraphs: list[str] = []
        self.in_p = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
            if tag == "p":
                self.in_p = True
                self.paragraphs.append("")
        elif ("id", "abstract") in attrs:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if tag == "p":
                self.in_p = False

    def handle_data(self, data: str) -> None:
        if self.depth and self.in_p:
            self.paragraphs[-1] += data


def test_paragraphs_kept_through_import_api_and_page(cli, data_dir, fixtures_dir):
    assert cli("ingest", str(fixtures_dir / OAI)).exit_code == 0
    shown = cli("papers", "show", THREE_BREAKS, "--json")
    summary = json.loads(shown.stdout)["summary"]
    paragraphs = summary.split("\n\n")
    assert len(paragraphs) == 2, summary
    assert all("\n" not in p and "  " not in p for p in paragraphs)  # lines unwrapped
    assert paragraphs[0].startswith("Spatially-coupled low-density parity-check (LDPC) codes")
    assert paragraphs[1].startswith("Recently, potential functions")

    settings = load_settings(data_dir=data_dir, secret_key="k" * 32)
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/api/papers/{THREE_BREAKS}").json()["summary"] == summary
        page = AbstractParagraphs()
        page.feed(client.get(f"/papers/{THREE_BREAKS}").text)
        assert [" ".join(p.split()) for p in page.paragraphs] == paragraphs
        search = client.get("/search", params={"q": "spatially coupled LDPC potential functions"})
        assert search.status_code == 200
        assert len(re.findall(r"<p>Recently, ", search.text)) == 1, search.text


def test_single_paragraph_abstracts_stay_one_paragraph(cli, fixtures_dir):
    assert cli("ingest", str(fixtures_dir / OAI)).exit_code == 0
    summary = json.loads(cli("papers", "show", ONE_PARAGRAPH, "--json").stdout)["summary"]
    assert "\n" not in summary and "  " not in summary


def test_one_line_abstracts_are_tidied_like_any_other() -> None:
    """The no-newline shortcut gives what the general rule gives: words joined by one space."""
    from paperfeed.ingest.records import paragraphs

    odd_spaces = ["a  b", " a", "a ", "a\tb", "a\rb", "a\xa0b", "a\u2009b", "a\x1cb", "a\x0bb"]
    for text in [*odd_spaces, "plain words, one space", "", "   ", "x"]:
        assert paragraphs(text) == " ".join(text.split()), repr(text)
    tidy = "Already tidy: one space between words."
    assert paragraphs(tidy) is tidy
    assert paragraphs("First para\n  second para") == "First para\n\nsecond para"
