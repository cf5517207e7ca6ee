"""JSONL import: real corpus records, idempotency, versions, merging, the CLI summary."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from paperfeed.ingest import ingest_sources

SAMPLE = "arxiv_cs_daily_sample_3000.jsonl.gz"


def sample_records(fixtures_dir: Path, n: int | None = None) -> list[dict]:
    with gzip.open(fixtures_dir / SAMPLE, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for _, line in zip(range(n or 10**9), f, strict=False)]
    return lines


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_sample_imports_every_record_with_its_fields(fresh_store, fixtures_dir):
    report = ingest_sources(fresh_store, [str(fixtures_dir / SAMPLE)], batch_size=700)
    assert report.records == 3000 and report.rejected == 0 and not report.failed_sources
    assert (report.papers.added, report.papers.updated, report.papers.unchanged) == (3000, 0, 0)
    assert fresh_store.stats().papers == 3000

    paper = fresh_store.get_paper("2602.02559").paper
    assert paper.title.startswith("Experience-Driven Multi-Agent Systems Are Training-free")
    assert paper.authors[0] == "Pengyu Dai" and paper.authors[-1] == "Naoto Yokoya"
    assert len(paper.authors) == 7
    assert paper.primary_category == "cs.AI"
    assert paper.categories == ["cs.AI", "cs.CV", "cs.LG", "cs.MA"]
    assert paper.comment == "21 pages, 6 figures"
    assert paper.published.isoformat() == "2026-01-30T15:11:07+00:00"
    assert paper.listing_date.isoformat() == "2026-02-02"
    assert paper.version == 1
    assert r"\textbf{GeoEvolver}" in paper.abstract  # LaTeX kept exactly


def test_same_input_twice_changes_nothing(fresh_store, fixtures_dir):
    source = [str(fixtures_dir / SAMPLE)]
    ingest_sources(fresh_store, source, batch_size=1000)
    seq = fresh_store.last_seq()
    again = ingest_sources(fresh_store, source, batch_size=1000)
    assert (again.papers.added, again.papers.updated, again.papers.unchanged) == (0, 0, 3000)
    assert fresh_store.last_seq() == seq  # nothing rewritten, derived indexes see no change
    assert fresh_store.stats().papers == 3000


def versioned(fixtures_dir: Path) -> tuple[dict, dict]:
    """A real v2 record from the sample, and the same paper as a v1 record."""
    v2 = next(r for r in sample_records(fixtures_dir) if r.get("version") == 2)
    v1 = dict(v2, version=1, updated=v2["published"], title="First version title")
    v1["abstract"] = "The first version's abstract, replaced in v2."
    return v1, v2


def test_newer_version_replaces_older(fresh_store, fixtures_dir, tmp_path):
    v1, v2 = versioned(fixtures_dir)
    ingest_sources(fresh_store, [str(write_jsonl(tmp_path / "v1.jsonl", [v1]))])
    report = ingest_sources(fresh_store, [str(write_jsonl(tmp_path / "v2.jsonl", [v2]))])
    assert report.papers.updated == 1
    stored = fresh_store.get_paper(v2["arxiv_id"]).paper
    assert (stored.version, stored.title, stored.abstract) == (2, v2["title"], v2["abstract"])
    assert fresh_store.stats().papers == 1


def test_older_version_arriving_later_is_ignored(fresh_store, fixtures_dir, tmp_path):
    v1, v2 = versioned(fixtures_dir)
    ingest_sources(fresh_store, [str(write_jsonl(tmp_path / "v2.jsonl", [v2]))])
    report = ingest_sources(fresh_store, [str(write_jsonl(tmp_path / "v1.jsonl", [v1]))])
    assert report.papers.added == 0
    stored = fresh_store.get_paper(v2["arxiv_id"]).paper
    assert (stored.version, stored.title) == (2, v2["title"])


def test_both_versions_in_one_batch_keep_the_newest(fresh_store, fixtures_dir, tmp_path):
    v1, v2 = versioned(fixtures_dir)
    path = write_jsonl(tmp_path / "both.jsonl", [v2, v1])
    report = ingest_sources(fresh_store, [str(path)])
    assert report.papers.added == 1
    assert fresh_store.get_paper(v2["arxiv_id"]).paper.version == 2


def test_paper_in_several_categories_and_sources_is_one_paper(fresh_store, fixtures_dir, tmp_path):
    record = sample_records(fixtures_dir, 1)[0]
    # The same paper as two other crawls listed it: under one category each, one of them
    # without the comment.
    in_cv = dict(record, categories=["cs.CV"], sources=["crawl-cv"])
    in_ro = dict(record, categories=["cs.RO"], sources=["crawl-ro"])
    del in_ro["comment"]
    ingest_sources(fresh_store, [str(fixtures_dir / SAMPLE)], limit=1)
    ingest_sources(fresh_store, [str(write_jsonl(tmp_path / "cv.jsonl", [in_cv]))])
    ingest_sources(fresh_store, [str(write_jsonl(tmp_path / "ro.jsonl", [in_ro]))])
    assert fresh_store.stats().papers == 1
    paper = fresh_store.get_paper(record["arxiv_id"]).paper
    assert paper.primary_category == "cs.AI"
    assert set(paper.categories) == {"cs.AI", "cs.CV", "cs.LG", "cs.MA", "cs.RO"}
    assert paper.comment == record["comment"]


def test_cli_prints_the_summary(cli, fixtures_dir):
    result = cli("ingest", "--no-index", str(fixtures_dir / SAMPLE))
    assert result.exit_code == 0, result.output
    assert "added 3000, updated 0, unchanged 0 papers" in result.stdout
    assert "rejected 0" in result.stdout
    again = cli("ingest", "--no-index", str(fixtures_dir / SAMPLE))
    assert "added 0, updated 0, unchanged 3000 papers" in again.stdout
    shown = cli("papers", "show", "2602.02559")
    assert "Experience-Driven Multi-Agent Systems" in shown.stdout


def test_dry_run_writes_nothing(cli, fixtures_dir):
    result = cli("ingest", "--dry-run", str(fixtures_dir / SAMPLE))
    assert result.exit_code == 0, result.output
    assert "dry run: 3000 records parsed" in result.stdout
    assert '"papers": 0' in cli("stats", "--json").stdout
