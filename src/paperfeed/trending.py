"""Trending papers: upvotes decayed by age, with the arithmetic shown for each paper.

    score = (upvotes + 1) / (age_hours + 2) ** GRAVITY

`age_hours` runs from the paper's daily-list time (its day at 00:00 UTC, or the moment it
was submitted) to the reference time. The reference time is now, except on a catalogue whose
newest daily list is older than the window (an archive or the bundled sample): then it is the
end of that newest day, so the page still shows the last active week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from paperfeed.models import StoredPaper
from paperfeed.store import Store

GRAVITY = 1.5
CANDIDATES = 2000


@dataclass(slots=True)
class TrendingPaper:
    item: StoredPaper
    score: float
    age_hours: float

    def explain(self) -> str:
        return explain_score(self.item.upvotes, self.age_hours, self.score)


def listed_at(item: StoredPaper) -> datetime | None:
    if item.submitted_at:
        return item.submitted_at
    if item.daily_day:
        return datetime.combine(item.daily_day, time(), tzinfo=UTC)
    return None


def reference_time(store: Store, window: timedelta, now: datetime | None = None) -> datetime:
    """Now, or the end of the newest daily list when the catalogue has gone quiet."""
    now = now or datetime.now(UTC)
    latest = store.latest_daily_day()
    if latest is None:
        return now
    end_of_latest = datetime.combine(latest + timedelta(days=1), time(), tzinfo=UTC)
    return end_of_latest if now - end_of_latest > window else now


def trending_score(upvotes: int, age_hours: float) -> float:
    """The decayed score of the module docstring."""
    return (upvotes + 1) / (max(age_hours, 0.0) + 2) ** GRAVITY


def explain_score(upvotes: int, age_hours: float, score: float) -> str:
    """The arithmetic behind a trending score, as shown on hover and in the API."""
    return f"({upvotes} upvotes + 1) / ({age_hours:.0f} h + 2)^{GRAVITY} = {score:.4f}"


def trending(
    store: Store,
    *,
    window: timedelta = timedelta(days=7),
    limit: int = 50,
    now: datetime | None = None,
) -> list[TrendingPaper]:
    """The top `limit` daily-list papers of the last `window`, best first."""
    ref = reference_time(store, window, now)
    since = (ref - window).date()
    ranked = []
    for item in store.recent_daily(since=since, limit=CANDIDATES):
        listed = listed_at(item)
        if listed is None or listed > ref:
            continue
        age = (ref - listed).total_seconds() / 3600
        ranked.append(TrendingPaper(item, trending_score(item.upvotes, age), age))
    ranked.sort(key=lambda t: (-t.score, t.item.paper.id))
    return ranked[:limit]
