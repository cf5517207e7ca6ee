"""BibTeX entries parse with bibtexparser 2 and give back the titles and names they were
made from: TeX specials escaped, inline math kept, accents kept, a year always, keys in ASCII
(issue 9, item 14)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import bibtexparser
import httpx
import pytest
import rispy
from bibtexparser.middlewares import SeparateCoAuthors
from conftest import LiveServer
from fastapi.testclient import TestClient
from pylatexenc.latex2text import LatexNodes2Text

from paperfeed.settings import load_settings
from paperfeed.web.app import create_app

TRICKY = [
    # (id, title, authors, extra fields)
    ("2501.00001", "MITRE ATT&CK Coverage: 100% of Tactics", ["Dušan Marjanović"], {}),
    ("2501.00002", "Spend $5, win #1: snake_case_names & more", ["José Ñúñez", "Zoë Ødegård"], {}),
    (
        "2501.00003",
        r"Regret $\widetilde{O}(\sqrt{T})$ for Bandits with $j<i$ Constraints",
        ["Łukasz Kaiser", "Anne-Marie SSchmidt"],
        {},
    ),
    ("2501.00004", "Scaling ~ Laws Revisited {part", ["Research and Development Team"], {}),
    (
        "2501.00005",
        "A Paper Without a Publication Date",
        ["Ada Lovelace"],
        {"published": None, "listing_date": "2024-03-05"},
    ),
]


def decode(value: str) -> str:
    """A field's text as a reader sees it: LaTeX decoded, inline math kept verbatim.

    pylatexenc writes TeX's \\textasciicircum as U+02C6 (modifier letter circumflex); TeX
    prints it as "^", so that is what we compare with.
    """
    text = LatexNodes2Text(math_mode="verbatim").latex_to_text(value).replace("\u02c6", "^")
    return " ".join(text.split())


def parse_one(text: str) -> bibtexparser.model.Entry:
    library = bibtexparser.parse_string(text, append_middleware=[SeparateCoAuthors()])
    assert not library.failed_blocks, text
    assert len(library.entries) == 1, text
    return library.entries[0]


@pytest.fixture
def tricky_client(cli, data_dir: Path, tmp_path: Path):  # noqa: ANN201
    rows = []
    for paper_id, title, authors, extra in TRICKY:
        row = {
            "arxiv_id": paper_id,
            "title": title,
            "abstract": "An abstract.",
            "authors": authors,
            "published": "2025-01-02T10:00:00Z",
            "primary_category": "cs.LG",
        }
        rows.append({**row, **extra})
    path = tmp_path / "tricky.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert cli("ingest", str(path), "--no-index").exit_code == 0
    with TestClient(create_app(load_settings(data_dir=data_dir, secret_key="k" * 32))) as c:
        yield c


@pytest.mark.parametrize(("paper_id", "title", "authors", "extra"), TRICKY)
def test_tricky_titles_and_names_round_trip(tricky_client, paper_id, title, authors, extra):
    r = tricky_client.get(f"/api/papers/{paper_id}/bibtex")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-bibtex")
    entry = parse_one(r.text)
    balanced = title.count("{") == title.count("}")
    expected = title if balanced else title.replace("{", "").replace("}", "")
    assert decode(entry["title"]) == " ".join(expected.split())
    assert [decode(a) for a in entry["author"]] == authors
    assert entry["year"] == ("2024" if extra else "2025")
    assert entry.key.isascii() and entry.key.isalnum(), entry.key


def test_keys_keep_non_ascii_letters_transliterated(tricky_client):
    keys = {
        pid: parse_one(tricky_client.get(f"/api/papers/{pid}/bibtex").text).key
        for pid, *_ in TRICKY
    }
    assert keys["2501.00001"] == "marjanovic2025mitre"
    assert keys["2501.00002"] == "nunez2025spend"
    assert keys["2501.00003"] == "kaiser2025regret"


def test_every_catalogue_entry_parses_and_round_trips(web_server: LiveServer):
    papers = httpx.get(web_server.url + "/api/papers", params={"limit": 100}).json()
    assert len(papers) >= 90
    for paper in papers:
        text = httpx.get(f"{web_server.url}/api/papers/{paper['id']}/bibtex").text
        entry = parse_one(text)
        assert entry["title"] and entry["year"].isdigit(), text
        title = paper["title"]
        if title.count("{") == title.count("}"):
            # arXiv titles are TeX source: "--" may be read as written or as an en dash
            assert decode(entry["title"]) in (" ".join(title.split()), decode(title)), text
        assert [decode(a) for a in entry["author"]] == [a["name"] for a in paper["authors"]]


HOSTILE = [
    # a backslash at the very end would escape the field's closing brace
    {"arxiv_id": "2502.00001", "title": "Ends in a backslash \\", "authors": ["Back Slash\\"]},
    # `\}` is no group to TeX and bibtexparser, but a brace to BibTeX: balanced by count only
    {"arxiv_id": "2502.00002", "title": "A {\\} group", "authors": ["Ann Lee"]},
    # biber's verbatim fields, the same hazards plus a line break
    {
        "arxiv_id": "2502.00003",
        "title": "Hostile verbatim fields",
        "authors": ["Ann Lee"],
        "doi": "10.1000/a}b{c\\",
        "primary_category": "cs.LG}",
        "categories": ["cs.AI\nER  - \nTY  - JOUR\nTI  - injected"],
    },
    # no submission time (an RSS listing): the year comes from the announce date
    {"arxiv_id": "2502.00004", "title": "Undated", "published": None, "listing_date": "2024-03-05"},
]


@pytest.fixture
def hostile_client(cli, data_dir: Path, tmp_path: Path):  # noqa: ANN201
    rows = [
        {"abstract": "An abstract.", "published": "2025-01-02T10:00:00Z", **row}
        | {"daily_date": "2025-01-03"}
        for row in HOSTILE
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert cli("ingest", str(path), "--no-index").exit_code == 0
    with TestClient(create_app(load_settings(data_dir=data_dir, secret_key="k" * 32))) as c:
        yield c


def test_hostile_fields_keep_the_entry_parseable(hostile_client):
    entries = {
        row["arxiv_id"]: parse_one(hostile_client.get(f"/api/papers/{row['arxiv_id']}/bibtex").text)
        for row in HOSTILE
    }
    assert decode(entries["2502.00001"]["title"]) == "Ends in a backslash \\"
    assert [decode(a) for a in entries["2502.00001"]["author"]] == ["Back Slash\\"]
    assert decode(entries["2502.00002"]["title"]) == "A group"
    verbatim = entries["2502.00003"]
    assert verbatim["eprint"] == "2502.00003" and verbatim["url"].endswith("2502.00003")
    assert verbatim["doi"] == "10.1000/abc" and verbatim["primaryClass"] == "cs.LG"


def test_a_line_break_in_a_field_starts_no_ris_record(hostile_client):
    r = hostile_client.get("/api/export/daily", params={"format": "ris", "date": "2025-01-03"})
    assert r.status_code == 200
    records = rispy.loads(r.text)
    assert sorted(x["accession_number"] for x in records) == [
        f"arXiv:{row['arxiv_id']}" for row in HOSTILE
    ]
    verbatim = next(x for x in records if x["accession_number"] == "arXiv:2502.00003")
    assert "cs.AI ER - TY - JOUR TI - injected" in verbatim["keywords"]
    assert verbatim["title"] == "Hostile verbatim fields"
    undated = next(x for x in records if x["accession_number"] == "arXiv:2502.00004")
    assert undated["year"] == "2024"


def test_an_undated_paper_has_its_year_in_every_export(hostile_client):
    r = hostile_client.get("/api/export/daily", params={"format": "csv", "date": "2025-01-03"})
    rows = {row["arxiv_id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["2502.00004"]["year"] == "2024" and rows["2502.00004"]["published"] == ""
    assert rows["2502.00003"]["year"] == "2025"
