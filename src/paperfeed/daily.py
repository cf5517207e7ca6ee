"""The daily list as people browse it: a day, an ISO week or a month, and submissions to it."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

from paperfeed.dates import MAX_DAY, MIN_DAY, check_day, iso_day
from paperfeed.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from paperfeed.models import DailyEntry, StoredPaper, User, listed_at
from paperfeed.settings import Settings
from paperfeed.store import Store

PeriodKind = Literal["day", "week", "month"]
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
ARXIV_API = "https://export.arxiv.org/api/query"


@dataclass(frozen=True, slots=True)
class Period:
    """A span of the daily list: one day, one ISO week or one month."""

    kind: PeriodKind
    start: date
    end: date

    @property
    def key(self) -> str:
        """The value of the `date`/`week`/`month` parameter that selects this period."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.strftime("%Y-%m")

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.strftime("%a, %b %-d, %Y")
        if self.kind == "week":
            return f"Week of {self.start.strftime('%b %-d, %Y')}"
        return self.start.strftime("%B %Y")

    def shifted(self, steps: int) -> Period:
        """The period `steps` periods later (earlier when negative)."""
        if self.kind == "day":
            return day_period(self.start + timedelta(days=steps))
        if self.kind == "week":
            return week_period(self.start + timedelta(weeks=steps))
        month = self.start.month - 1 + steps
        return month_period(date(self.start.year + month // 12, month % 12 + 1, 1))


def day_period(day: date) -> Period:
    return Period("day", day, day)


def week_period(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    return Period("week", start, start + timedelta(days=6))


def month_period(day: date) -> Period:
    last = calendar.monthrange(day.year, day.month)[1]
    return Period("month", day.replace(day=1), day.replace(day=last))


def parse_period(
    *, day: str | None = None, week: str | None = None, month: str | None = None
) -> Period | None:
    """The period named by one of `date=YYYY-MM-DD`, `week=YYYY-Www`, `month=YYYY-MM`."""
    given = [v for v in (day, week, month) if v]
    if len(given) > 1:
        raise BadRequest("give only one of date, week and month")
    try:
        if day:
            return day_period(check_day(iso_day(day)))
        if week:
            m = _WEEK.fullmatch(week)
            if not m:
                raise ValueError
            return week_period(check_day(date.fromisocalendar(int(m[1]), int(m[2]), 1), "week"))
        if month:
            m = _MONTH.fullmatch(month)
            if not m:
                raise ValueError
            return month_period(check_day(date(int(m[1]), int(m[2]), 1), "month"))
    except ValueError:
        raise BadRequest(
            f"invalid period {given[0]!r}: use date=YYYY-MM-DD, week=YYYY-Www or month=YYYY-MM"
        ) from None
    return None


def all_days() -> Period:
    """Every day the daily list can hold (a submitter's papers when no period is named)."""
    return Period("month", MIN_DAY, MAX_DAY)


def period_or_latest(store: Store, period: Period | None, kind: PeriodKind = "day") -> Period:
    """`period`, or the one holding the latest day with papers (today on an empty store)."""
    if period is not None:
        return period
    latest = store.latest_daily_day() or datetime.now(UTC).date()
    return {"day": day_period, "week": week_period, "month": month_period}[kind](latest)


def neighbours(store: Store, period: Period) -> tuple[Period | None, Period | None]:
    """The nearest earlier and later periods of the same kind that have papers."""
    before, after = store.adjacent_daily_days(period.start)
    if period.end != period.start:  # a day asks once (a round trip on PostgreSQL)
        _, after = store.adjacent_daily_days(period.end)
    make = {"day": day_period, "week": week_period, "month": month_period}[period.kind]
    return (make(before) if before else None), (make(after) if after else None)


def submit_paper(
    store: Store, settings: Settings, user: User, arxiv_id: str, *, listed_ok: bool = False
) -> StoredPaper:
    """Put a paper on today's list; unknown papers are fetched from arXiv only when online.
    `listed_ok`: a paper already on the list is returned as it is, no Conflict (a form sent
    twice by a double click asks for what the first request did)."""
    from paperfeed.ingest.ids import normalize_arxiv_id

    try:
        paper_id, _ = normalize_arxiv_id(arxiv_id.strip())
    except ValueError:
        raise BadRequest(f"{arxiv_id!r} is not an arXiv id") from None
    if store.get_paper(paper_id) is None:
        if not settings.online:
            raise NotFound(
                f"paper {paper_id} is not in the catalogue (this instance does not fetch from "
                "arXiv; ask an operator to ingest it)"
            )
        from paperfeed.ingest import ingest_sources

        report = ingest_sources(store, [f"{ARXIV_API}?id_list={paper_id}"])
        if report.failed_sources:
            raise ServiceUnavailable(
                f"could not fetch {paper_id} from arXiv: {report.failed_sources[0]}"
            )
        if store.get_paper(paper_id) is None:
            raise NotFound(f"arXiv has no paper {paper_id}")
    listed = store.get_paper(paper_id)
    if listed is not None and listed.daily_day is not None:
        if listed_ok:
            return listed
        raise Conflict(f"paper {paper_id} is already on the daily list of {listed.daily_day}")
    now = datetime.now(UTC)
    store.upsert_daily(
        [
            DailyEntry(
                paper_id=paper_id,
                day=now.date(),
                submitted_by=user.name,
                submitted_at=now,
                submitter_fullname=user.name,
            )
        ]
    )
    item = store.get_paper(paper_id)
    if item is None:  # removed by someone else in between
        raise NotFound(f"paper {paper_id} is no longer in the catalogue")
    return item


def curate(
    store: Store, user: User, paper_id: str, action: str, *, missing_ok: bool = False
) -> None:
    """Pin, unpin or remove a paper on the daily list (curators and admins). `missing_ok`:
    removing a paper that is not on the list is no error (a form sent twice)."""
    if not user.can_curate:
        raise Forbidden("only curators and admins can change the daily list")
    if action == "remove":
        done = store.remove_daily(paper_id)
    elif action in ("pin", "unpin"):
        done = store.pin_daily(paper_id, action == "pin")
    else:
        raise BadRequest(f"unknown action {action!r}")
    if not done and not (missing_ok and action == "remove"):
        raise NotFound(f"paper {paper_id} is not on the daily list")


@dataclass(slots=True)
class RankedItem:
    """A daily-list paper with its trending score and the arithmetic behind it."""

    item: StoredPaper
    score: float | None = None
    explanation: str | None = None


DailySort = Literal["upvotes", "publishedAt", "trending"]
DAILY_SORTS: tuple[str, ...] = get_args(DailySort)


def _newest_entries(
    store: Store, period: Period, submitter: str | None, *, want: int, total: int
) -> list[StoredPaper]:
    """The entries of `period`'s latest months that hold its newest `want` (a month at a
    time from its end: a submitter's papers of every day can be many thousands, and any
    fixed cap on one query kept the most upvoted, not the newest)."""
    latest = store.latest_daily_day()
    end = min(period.end, latest) if latest else period.end
    items: list[StoredPaper] = []
    while end >= period.start and len(items) < min(want, total):  # never past the oldest
        start = max(end.replace(day=1), period.start)
        items += store.daily_list(start=start, end=end, submitter=submitter, limit=total)
        end = start - timedelta(days=1)
    return items


def daily_page(
    store: Store,
    period: Period,
    *,
    sort: str = "upvotes",
    limit: int = 50,
    offset: int = 0,
    submitter: str | None = None,
) -> tuple[list[RankedItem], int]:
    """One page of the daily list for `period`, and the period's total count; only the
    papers put there by the username `submitter` when given.

    `upvotes` (default) keeps pinned papers first, then upvotes; `publishedAt` is newest first;
    `trending` ranks by the decayed score of `paperfeed.trending`.
    """
    from paperfeed.trending import rank

    if sort not in DAILY_SORTS:
        raise BadRequest(f"sort must be one of {', '.join(DAILY_SORTS)}")
    start, end = period.start, period.end
    total = store.daily_count(start=start, end=end, submitter=submitter)
    if sort == "upvotes":
        items = store.daily_list(
            start=start, end=end, submitter=submitter, limit=limit, offset=offset
        )
        return [RankedItem(i) for i in items], total
    if sort == "publishedAt":  # HF: an item's publishedAt is when it went on the list
        if offset >= total:
            return [], total
        items = _newest_entries(store, period, submitter, want=offset + limit, total=total)
        never = datetime.min.replace(tzinfo=UTC)
        items.sort(key=lambda i: (listed_at(i) or never, i.paper.published or never), reverse=True)
        return [RankedItem(i) for i in items[offset : offset + limit]], total
    items = _newest_entries(store, period, submitter, want=total, total=total)
    from paperfeed.clock import CatalogueClock

    ranked = [
        RankedItem(t.item, t.score, t.explain()) for t in rank(items, CatalogueClock.load(store))
    ]
    return ranked[offset : offset + limit], total
