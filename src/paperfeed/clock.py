"""The catalogue's clock: ages that make sense on a live instance, an archive or the sample.

A wall-clock age freezes a quiet catalogue at "months ago": the bundled sample (last daily
list Aug 21, 2026) would have nothing trending, and the first paper submitted today would be
the only one in the last week. So ages here count *active* time only:

- today always counts (the wall clock runs: a paper submitted an hour ago is 1 h old);
- an earlier day counts when it has papers on the daily list;
- idle days between (a catalogue nobody fed for three months, arXiv holidays) are skipped.

The trending window is the last `days` active days. On a stale catalogue that is its last
active week, with ages as if it had just ended; after a fresh submission it is today plus
the previous active days, so one new paper blends into the week instead of emptying it, and
the old days roll out as new ones become active. Times in the future (clock skew, a feed
dated ahead) count as age 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paperfeed.models import StoredPaper, listed_at  # noqa: F401 (re-exported)
from paperfeed.store import Store

NEW_BADGE_HOURS = 24


@dataclass(frozen=True, slots=True)
class CatalogueClock:
    """Wall-clock `now` plus the catalogue's recent active days (newest first)."""

    now: datetime
    active_days: tuple[date, ...]

    @classmethod
    def load(cls, store: Store, *, days: int = 7, now: datetime | None = None) -> CatalogueClock:
        """The clock of `store`: its last `days` days with papers on the daily list."""
        now = now or datetime.now(UTC)
        return cls(now=now, active_days=tuple(store.latest_daily_days(days)))

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def newest_day(self) -> date | None:
        """The catalogue's newest announce (its own "today")."""
        return self.active_days[0] if self.active_days else None

    @property
    def window_start(self) -> date:
        """First day of the trending window (today on an empty catalogue)."""
        return self.active_days[-1] if self.active_days else self.today

    def window_start_time(self) -> datetime:
        return datetime.combine(self.window_start, time(), tzinfo=UTC)

    def idle_days_between(self, start: date, end: date) -> int:
        """Days strictly between `start` and `end` with no papers (today is never idle)."""
        if end <= start:
            return 0
        between = (end - start).days - 1
        active = sum(1 for d in self.active_days if start < d < end and d != self.today)
        today_inside = 1 if start < self.today < end else 0
        return max(between - active - today_inside, 0)

    def age_hours(self, listed: datetime) -> float:
        """Hours of active time from `listed` to now (0 for times in the future)."""
        if listed >= self.now:
            return 0.0
        wall = (self.now - listed).total_seconds() / 3600
        idle = self.idle_days_between(listed.date(), self.today)
        return max(wall - 24.0 * idle, 0.0)

    def in_window(self, day: date) -> bool:
        return day >= self.window_start

    def is_new(self, item: StoredPaper) -> bool:
        """On the catalogue's newest daily list, or listed in the last 24 wall-clock hours."""
        listed = listed_at(item)
        if listed is None:
            return False
        if item.daily_day is not None and item.daily_day == self.newest_day:
            return True
        return timedelta(0) <= self.now - listed <= timedelta(hours=NEW_BADGE_HOURS)
