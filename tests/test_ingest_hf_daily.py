"""Hugging Face /api/daily_papers JSON, current and 2024 schema."""

from __future__ import annotations

import json
from datetime import date

from paperfeed.ingest import ingest_sources
from paperfeed.ingest.hf_daily import parse_hf_daily
from paperfeed.ingest.records import Record, Rejected

CURRENT = "hf_daily_papers_2026-07-09.json"
OLD = "hf_daily_papers_2024-05-27.json"


def parse(path):
    with path.open("rb") as f:
        return list(parse_hf_daily(f, path.name))


def test_current_schema(fixtures_dir):
    items = parse(fixtures_dir / CURRENT)
    assert len(items) == 7 and all(isinstance(i, Record) for i in items)
    first = items[0]
    p, d = first.paper, first.daily
    assert p.id == "2607.07708"
    assert p.title.startswith("Accurate, Interdisciplinary and Transparent Structure-property")
    assert p.abstract.startswith("Structure-property relationships are foundational")
    assert p.authors[0] == "Chen Tang" and len(p.authors) == 29
    assert p.published.isoformat() == "2026-07-08T00:00:00+00:00"
    assert p.github_url == "https://github.com/SpectrAI-Initiative/SciReasoner"
    assert p.project_page == "https://scireasoner.github.io"
    assert d.day == date(2026, 7, 9)
    # HF's submitter: username "Uanu", full name "Jianyu Wu": both kept
    assert (d.upvotes, d.num_comments, d.submitted_by) == (60, 1, "Uanu")
    assert d.submitter_fullname == "Jianyu Wu"
    assert d.submitter_avatar == (
        "https://huggingface.co/avatars/9f39725cb42d9276899fd58a91468d6a.svg"
    )
    assert "SciReasoner is a multimodal" not in p.abstract  # HF's ai_summary is ignored


def test_old_schema(fixtures_dir):
    items = parse(fixtures_dir / OLD)
    assert len(items) == 13 and all(isinstance(i, Record) for i in items)
    p, d = items[0].paper, items[0].daily
    assert p.id == "2405.15738"
    assert (
        p.title == "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert p.published.isoformat() == "2024-05-24T17:34:15+00:00"
    assert p.authors[:2] == ["Chunjiang Ge", "Sijie Cheng"]
    assert d.day == date(2024, 5, 27)  # the item's own publishedAt: when it was listed
    assert (d.upvotes, d.num_comments, d.submitted_by) == (32, 3, None)


def test_hidden_authors_are_left_out(fixtures_dir, tmp_path):
    data = json.loads((fixtures_dir / CURRENT).read_text())
    hidden = data[0]["paper"]["authors"][1]["name"]
    data[0]["paper"]["authors"][1]["hidden"] = True
    path = tmp_path / "hidden.json"
    path.write_text(json.dumps(data))
    paper = parse(path)[0].paper
    assert hidden not in paper.authors and len(paper.authors) == 28


def test_bad_entries_are_rejected_good_ones_kept(fixtures_dir, tmp_path):
    data = json.loads((fixtures_dir / OLD).read_text())
    del data[2]["paper"]["summary"]
    data[4]["paper"]["upvotes"] = "many"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    items = parse(path)
    rejected = [str(i) for i in items if isinstance(i, Rejected)]
    assert rejected == [
        f"{path.name}: entry 3: missing abstract",
        f"{path.name}: entry 5: bad upvotes 'many'",
    ]
    assert sum(isinstance(i, Record) for i in items) == 11


def test_daily_list_in_the_store(fresh_store, fixtures_dir):
    sources = [str(fixtures_dir / CURRENT), str(fixtures_dir / OLD)]
    report = ingest_sources(fresh_store, sources)
    assert report.papers.added == 20 and report.daily.added == 20
    day = fresh_store.daily_list(start=date(2026, 7, 9), end=date(2026, 7, 9))
    assert [i.paper.id for i in day][:2] == ["2607.07708", "2607.07608"]
    assert day[0].upvotes == 60 and day[0].submitted_by == "Uanu"
    assert day[0].submitter_fullname == "Jianyu Wu"
    again = ingest_sources(fresh_store, sources)
    assert again.papers.unchanged == 20 and again.daily.unchanged == 20


def test_later_captures_raise_upvotes_and_fill_the_submitter(fresh_store, fixtures_dir, tmp_path):
    # The same day captured twice: early (no submitter known, fewer votes), then later.
    data = json.loads((fixtures_dir / CURRENT).read_text())
    early = json.loads(json.dumps(data))
    for item in early:
        item["paper"]["upvotes"] = 1
        item["paper"].pop("submittedOnDailyBy")
        item.pop("submittedBy")
    (tmp_path / "early.json").write_text(json.dumps(early))
    (tmp_path / "both.json").write_text(json.dumps(early + data))
    report = ingest_sources(fresh_store, [str(tmp_path / "both.json")])  # one batch
    assert (report.daily.added, report.daily.updated) == (7, 7)
    item = fresh_store.get_paper("2607.07708")
    assert (item.upvotes, item.submitted_by, item.submitter_fullname) == (60, "Uanu", "Jianyu Wu")
    again = ingest_sources(fresh_store, [str(tmp_path / "early.json")])
    assert again.daily.unchanged == 7
    assert fresh_store.get_paper("2607.07708").upvotes == 60  # votes never go down
