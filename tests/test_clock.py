"""Trending and "new" on the catalogue's clock: a stale catalogue, a fresh submission, the
days after it (the transition), and clock skew."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperfeed.clock import CatalogueClock
from paperfeed.ingest import ingest_sources
from paperfeed.models import DailyEntry, Paper
from paperfeed.store.sqlite import SqliteStore
from paperfeed.trending import trending

LAST_SAMPLE_DAY = date(2026, 8, 21)
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # three months after the last daily list


@pytest.fixture
def store(fresh_store: SqliteStore, fixtures_dir: Path) -> SqliteStore:
    report = ingest_sources(fresh_store, [str(fixtures_dir / "web_papers.jsonl")])
    assert not report.failed_sources and report.daily.added > 50
    return fresh_store


def submit(store: SqliteStore, paper_id: str, when: datetime, upvotes: int = 0) -> None:
    store.upsert_papers([Paper(id=paper_id, title=f"Fresh paper {paper_id}", abstract="New.")])
    store.upsert_daily(
        [
            DailyEntry(
                paper_id=paper_id,
                day=when.date(),
                submitted_by="fresh",
                submitted_at=when,
                upvotes=upvotes,
            )
        ]
    )


def sample_ids(ranked: list) -> set[str]:  # noqa: ANN001
    return {t.item.paper.id for t in ranked if t.item.submitted_by != "fresh"}


def test_stale_catalogue_shows_its_last_active_week_as_if_it_just_ended(store) -> None:  # noqa: ANN001
    ranked = trending(store, limit=50, now=NOW)
    assert len(ranked) == 50  # the fixture's last seven active days hold 60 papers
    right_after = trending(store, limit=50, now=datetime(2026, 8, 22, 10, tzinfo=UTC))
    assert [t.item.paper.id for t in ranked] == [t.item.paper.id for t in right_after]
    newest = [t for t in ranked if t.item.daily_day == LAST_SAMPLE_DAY]
    assert newest and all(24 <= t.age_hours <= 34 for t in newest)  # not "101 days old"
    clock = CatalogueClock.load(store, now=NOW)
    assert clock.newest_day == LAST_SAMPLE_DAY
    assert clock.is_new(newest[0].item)
    older = next(t.item for t in ranked if t.item.daily_day == date(2026, 8, 20))
    assert not clock.is_new(older)


def test_one_fresh_submission_blends_into_the_last_active_week(store) -> None:  # noqa: ANN001
    before = sample_ids(trending(store, limit=50, now=NOW))
    submit(store, "2611.00001", NOW - timedelta(hours=1))
    ranked = trending(store, limit=50, now=NOW)
    assert len(ranked) == 50
    assert "2611.00001" in {t.item.paper.id for t in ranked}
    # Today took one of the seven active-day slots: one sample day rolled out, the rest stay.
    assert len(sample_ids(ranked) & before) >= 45
    clock = CatalogueClock.load(store, now=NOW)
    fresh = store.get_paper("2611.00001")
    sample_newest = store.daily_list(start=LAST_SAMPLE_DAY, end=LAST_SAMPLE_DAY, limit=1)[0]
    assert fresh is not None and clock.is_new(fresh) and not clock.is_new(sample_newest)


def test_the_transition_old_week_rolls_out_as_new_days_become_active(store) -> None:  # noqa: ANN001
    seen_sample = []
    for day in range(7):
        when = NOW + timedelta(days=day)
        submit(store, f"2611.{day + 10:05d}", when, upvotes=1)
        ranked = trending(store, limit=50, now=when + timedelta(hours=1))
        seen_sample.append(len(sample_ids(ranked)))
        fresh = [t for t in ranked if t.item.submitted_by == "fresh"]
        assert len(fresh) == day + 1  # every fresh paper of the active week is there
        # ages count active time only: yesterday's fresh paper is about a day old
        if day:
            yesterday = next(t for t in fresh if t.item.paper.id == f"2611.{day + 9:05d}")
            assert 24 <= yesterday.age_hours <= 26
    # Sample papers fade out one active day at a time, and are gone after a week of activity.
    assert seen_sample == sorted(seen_sample, reverse=True)
    assert seen_sample[0] >= 40 and seen_sample[-1] == 0


def test_clock_skew_and_future_days_are_no_error(store) -> None:  # noqa: ANN001
    submit(store, "2612.00001", NOW + timedelta(days=2), upvotes=3)  # a feed dated ahead
    ranked = trending(store, limit=50, now=NOW)
    future = next(t for t in ranked if t.item.paper.id == "2612.00001")
    assert future.age_hours == 0.0 and ranked[0] is future
    assert CatalogueClock.load(store, now=NOW).is_new(future.item)


def test_empty_catalogue_has_an_empty_trending_page(fresh_store) -> None:  # noqa: ANN001
    assert trending(fresh_store, now=NOW) == []
    assert CatalogueClock.load(fresh_store, now=NOW).window_start == NOW.date()
