"""Shared set-up for the search tests: a real temp data dir and SQLite store with real papers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from paperfeed.ingest import ingest_sources
from paperfeed.models import Paper
from paperfeed.settings import Settings, load_settings
from paperfeed.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
WEB_PAPERS = FIXTURES / "web_papers.jsonl"  # 90 real HF daily papers, half with code links
CS_SAMPLE = FIXTURES / "arxiv_cs_daily_sample_3000.jsonl.gz"  # 3,000 real arXiv cs papers


def make_env(data_dir: Path, *sources: Path) -> tuple[Settings, SqliteStore]:
    settings = load_settings(data_dir=data_dir)
    store = SqliteStore(settings.sqlite_path)
    if sources:
        ingest_sources(store, [str(s) for s in sources])
    return settings, store


def paper(pid: str, title: str, abstract: str, **kw: object) -> Paper:
    kw.setdefault("published", datetime(2025, 1, 1, tzinfo=UTC))
    return Paper(id=pid, title=title, abstract=abstract, **kw)  # type: ignore[arg-type]
