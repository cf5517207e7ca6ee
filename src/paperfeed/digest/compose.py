"""What goes into one subscriber's digest: trending papers plus saved-search matches, and
for subscribers who have an account, "for you" and new papers from what they follow.

A `Composer` lives for one run: the trending candidates are ranked once per frequency, the
catalogue's clock is read once per window, each saved search runs once per (query, filters,
since), and which subscribers have an account is looked up a batch at a time
(`know_accounts`), so 100k subscribers cost a few queries plus one `sent_paper_ids` lookup
each. Papers already mailed to a subscriber are left out (the store's `sent_papers` primary
key backs this up).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from paperfeed.clock import CatalogueClock
from paperfeed.models import Frequency, SavedSearch, StoredPaper, Subscriber, User
from paperfeed.search import Filters, SearchService, open_search
from paperfeed.settings import Settings
from paperfeed.store import Store
from paperfeed.trending import trending

log = logging.getLogger(__name__)

WINDOWS: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
TRENDING_PER_DIGEST = 10
MATCHES_PER_SEARCH = 10
TRENDING_CANDIDATES = 60  # ranked once per run; each subscriber takes the best unsent ones
SEARCH_CANDIDATES = 50
FOR_YOU_PER_DIGEST = 10
FOLLOWED_PER_DIGEST = 10
PUBLISHED_SLACK = timedelta(days=30)


def period_key(frequency: Frequency, now: datetime) -> str:
    """The period a digest belongs to: the UTC date (daily) or the ISO week (weekly)."""
    now = now.astimezone(UTC)
    if frequency == "weekly":
        year, week, _ = now.isocalendar()
        return f"w:{year}-W{week:02d}"
    return f"d:{now.date().isoformat()}"


@dataclass(slots=True)
class DigestSection:
    title: str
    items: list[StoredPaper]
    query: str | None = None  # the saved search behind the section, if any


@dataclass(slots=True)
class Digest:
    subscriber: Subscriber
    period: str
    sections: list[DigestSection] = field(default_factory=list)

    @property
    def paper_ids(self) -> list[str]:
        return [item.paper.id for section in self.sections for item in section.items]

    @property
    def empty(self) -> bool:
        return not any(section.items for section in self.sections)


def listed_day(item: StoredPaper) -> date | None:
    """When a paper reached this catalogue's readers: its daily-list day, else its listing."""
    p = item.paper
    return item.daily_day or p.listing_date or (p.published.date() if p.published else None)


def search_new_papers(
    search: SearchService,
    store: Store,
    query: str,
    *,
    filters: dict[str, Any],
    since: date,
    limit: int,
) -> list[StoredPaper]:
    """Papers matching a saved search that were listed on or after `since`, best first.

    The only call into `paperfeed.search`. Its `since` filter is on the publication date,
    which precedes the listing by days, so it gets `PUBLISHED_SLACK` of margin and the exact
    cut is made here on the listing day.
    """
    wanted = Filters(
        since=since - PUBLISHED_SLACK,
        categories=tuple(filters.get("categories", ())),
        has_code=filters.get("has_code"),
    )
    hits = search.search(query, limit=limit, filters=wanted, sort="relevance")
    items = [hit.paper for hit in hits if hit.paper is not None]
    return [item for item in items if (listed_day(item) or date.min) >= since]


class Composer:
    """Composes digests for one run, caching what subscribers share."""

    def __init__(self, settings: Settings, store: Store, now: datetime | None = None) -> None:
        self.settings = settings
        self.store = store
        self.now = now or datetime.now(UTC)
        self._trending: dict[str, list[StoredPaper]] = {}
        self._matches: dict[tuple[str, str, date], list[StoredPaper]] = {}
        self._clocks: dict[int, CatalogueClock] = {}  # by window days
        self._accounts: dict[str, User | None] = {}  # by subscriber address
        self._search: SearchService | None = None
        self._recommender: Any = None

    @property
    def search(self) -> SearchService:
        """The search service, opened on the first saved search of the run."""
        if self._search is None:
            self._search = open_search(self.settings, self.store, background=False)
        return self._search

    def close(self) -> None:
        """Close the search service this composer opened (if a saved search needed it)."""
        if self._search is not None:
            self._search.close()
            self._search = None
            self._recommender = None  # it held that service

    def trending_candidates(self, frequency: Frequency) -> list[StoredPaper]:
        if frequency not in self._trending:
            ranked = trending(
                self.store, window=WINDOWS[frequency], limit=TRENDING_CANDIDATES, now=self.now
            )
            self._trending[frequency] = [t.item for t in ranked]
        return self._trending[frequency]

    def since(self, subscriber: Subscriber) -> date:
        """Saved searches report papers listed since the last digest (or the last window)."""
        days = max(WINDOWS[subscriber.frequency].days, 1)
        if days not in self._clocks:
            self._clocks[days] = CatalogueClock.load(self.store, days=days, now=self.now)
        start = self._clocks[days].window_start_time()
        if subscriber.last_digest_at and subscriber.last_digest_at < start:
            start = subscriber.last_digest_at
        return start.date()

    def matches(self, search: SavedSearch, since: date) -> list[StoredPaper]:
        key = (
            search.query,
            orjson.dumps(search.filters, option=orjson.OPT_SORT_KEYS).decode(),
            since,
        )
        if key not in self._matches:
            self._matches[key] = search_new_papers(
                self.search,
                self.store,
                search.query,
                filters=search.filters,
                since=since,
                limit=SEARCH_CANDIDATES,
            )
        return self._matches[key]

    def know_accounts(self, subscribers: Sequence[Subscriber]) -> None:
        """Look up in one query which of these subscribers are readers with an account (the
        send job, a batch of due subscribers at a time); `compose` looks up any other."""
        emails = [s.email for s in subscribers if s.email not in self._accounts]
        found = self.store.users_by_email(emails)
        self._accounts.update({email: found.get(email) for email in emails})

    def reader_lists(
        self, subscriber: Subscriber, since: date
    ) -> tuple[list[StoredPaper], list[StoredPaper]]:
        """("for you", followed) for a subscriber who is also a reader with an account."""
        if subscriber.email not in self._accounts:
            self.know_accounts([subscriber])
        user = self._accounts[subscriber.email]
        if user is None:
            return [], []
        if self._recommender is None:
            from paperfeed.recommend import Recommender

            self._recommender = Recommender(self.store, self.search)
        ranked = self._recommender.recommend(user, limit=3 * FOR_YOU_PER_DIGEST, since=since)
        for_you = [r.item for r in ranked if r.reason.closest]  # learnt, not the cold start
        followed = self.store.followed_papers(user.id, since=since, limit=3 * FOLLOWED_PER_DIGEST)
        return for_you, followed

    def compose(self, subscriber: Subscriber, period: str | None = None) -> Digest:
        period = period or period_key(subscriber.frequency, self.now)
        trending_items = (
            self.trending_candidates(subscriber.frequency) if subscriber.trending else []
        )
        since = self.since(subscriber)
        searches = [(s, self.matches(s, since)) for s in subscriber.searches]
        for_you, followed = self.reader_lists(subscriber, since)
        candidate_ids = [i.paper.id for i in trending_items + for_you + followed] + [
            i.paper.id for _, items in searches for i in items
        ]
        taken = self.store.sent_paper_ids(subscriber.id, candidate_ids)
        digest = Digest(subscriber, period)

        def pick(items: list[StoredPaper], limit: int) -> list[StoredPaper]:
            chosen = []
            for item in items:
                if item.paper.id not in taken:
                    taken.add(item.paper.id)
                    chosen.append(item)
                    if len(chosen) == limit:
                        break
            return chosen

        # what a reader follows is picked first (they asked for it), shown after "for you"
        followed_picked = pick(followed, FOLLOWED_PER_DIGEST)
        if for_you:
            digest.sections.append(DigestSection("For you", pick(for_you, FOR_YOU_PER_DIGEST)))
        if followed_picked:
            digest.sections.append(
                DigestSection("New from authors and categories you follow", followed_picked)
            )
        if subscriber.trending:
            title = "Trending this week" if subscriber.frequency == "weekly" else "Trending today"
            digest.sections.append(DigestSection(title, pick(trending_items, TRENDING_PER_DIGEST)))
        for search, items in searches:
            digest.sections.append(
                DigestSection(
                    f"New for \u201c{search.query}\u201d",
                    pick(items, MATCHES_PER_SEARCH),
                    query=search.query,
                )
            )
        return digest
