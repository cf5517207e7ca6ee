"""Trending papers: upvotes decayed by age, with the arithmetic shown for each paper.

    score = (upvotes + 1) / (age_hours + 2) ** GRAVITY

`age_hours` runs from the paper's daily-list time (its day at 00:00 UTC, or the moment it
was submitted) to now on the catalogue's clock (`paperfeed.clock`): idle days with no papers
do not count, so a stale catalogue or the bundled sample shows its last active week, and a
fresh submission blends into that week instead of emptying the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from paperfeed.clock import CatalogueClock
from paperfeed.models import StoredPaper, listed_at
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


def trending_score(upvotes: int, age_hours: float) -> float:
    """The decayed score of the module docstring."""
    return float((upvotes + 1) / (max(age_hours, 0.0) + 2) ** GRAVITY)


def explain_score(upvotes: int, age_hours: float, score: float) -> str:
    """The arithmetic behind a trending score, as shown on hover and in the API.

    The result is rounded as the API's `trendingScore` (6 places) before it is shown to 4,
    so the two never disagree in the last digit.
    """
    return f"({upvotes} upvotes + 1) / ({age_hours:.0f} h + 2)^{GRAVITY} = {round(score, 6):.4f}"


def trending(
    store: Store,
    *,
    window: timedelta = timedelta(days=7),
    limit: int = 50,
    now: datetime | None = None,
) -> list[TrendingPaper]:
    """The top `limit` daily-list papers of the last `window` active days, best first."""
    clock = CatalogueClock.load(store, days=max(window.days, 1), now=now)
    return rank(store.recent_daily(since=clock.window_start, limit=CANDIDATES), clock)[:limit]


def rank(items: list[StoredPaper], clock: CatalogueClock) -> list[TrendingPaper]:
    """`items` by trending score on `clock`, best first (ties by id)."""
    ranked = []
    for item in items:
        listed = listed_at(item)
        if listed is None:
            continue
        age = clock.age_hours(listed)
        ranked.append(TrendingPaper(item, trending_score(item.upvotes, age), age))
    ranked.sort(key=lambda t: (-t.score, t.item.paper.id))
    return ranked
