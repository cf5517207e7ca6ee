"""Harvest the followed sources: what is new upstream since the last run, without cron scripts.

Sources are named `arxiv:<category>` (e.g. `arxiv:cs.CL`) or `hf-daily`. One run reads three
kinds of upstream feed, each with its own checkpoint in the store:

- `oai:<set>`: arXiv OAI-PMH `ListRecords` (metadataPrefix `arXiv`) of the category's archive
  set (`cs` for cs.CL, `physics:hep-th` for hep-th) `from=` the last datestamp seen, following
  resumption tokens; records outside the followed categories are skipped. The checkpoint is
  saved after every page *after* that page's papers are committed, so a harvest killed at any
  point resumes at the page it was on (a page seen twice is an idempotent upsert: nothing is
  lost or duplicated). A `badResumptionToken` (tokens expire) restarts the set from its
  checkpointed date.
- `rss:<category>`: the category's daily RSS listing (the day's announce): new and cross-listed
  papers get the feed's announce date as their listing date.
- `hf-daily`: Hugging Face's `/api/daily_papers?date=` for each day since the last one done,
  re-reading that last day (its upvotes keep growing). Its papers go on the daily list with
  HF's upvotes and comment counts in the imported ("HF") columns, never in local votes.

A feed that fails (404, 500 after retries, garbage) is reported and the others still run.
An empty announce (arXiv holidays, `noRecordsMatch`) or dates in the future are no error.
Requests follow the polite fetch rules of `paperfeed.ingest.fetch`.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from paperfeed import __version__
from paperfeed.errors import (
    BadRequest,
    Conflict,
    DatabaseUnavailable,
    PaperfeedError,
    StorageError,
)
from paperfeed.ingest.fetch import FetchPolicy, fetch
from paperfeed.ingest.records import Record, Rejected, SourceError
from paperfeed.ingest.sources import HEAD_BYTES, detect_source
from paperfeed.models import FollowedSource, UpsertCounts
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

HF_DAILY = "hf-daily"
FIRST_RUN_DAYS = 3  # a source's first harvest (without --since) reaches back this far
MAX_HF_DAYS = 400  # one run asks HF for at most this many days
PHYSICS_ARCHIVES = frozenset(
    [
        "astro-ph",
        "cond-mat",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math-ph",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "physics",
        "quant-ph",
    ]
)
ARCHIVES = PHYSICS_ARCHIVES | frozenset(["cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"])
_CATEGORY = re.compile(r"^([a-z][a-z-]*)(?:\.([A-Za-z][A-Za-z-]*))?$")
_OAI_ERROR = re.compile(rb'<error\s+code="([A-Za-z]+)"')
_DATESTAMP = re.compile(
    rb"<identifier>oai:arXiv\.org:([^<]+)</identifier>\s*<datestamp>(\d{4}-\d{2}-\d{2})"
)
NEW_WITHIN_DAYS = 7  # an OAI v1 record this close to its datestamp was just announced


@dataclass(frozen=True, slots=True)
class Source:
    """A parsed source name."""

    name: str
    category: str | None = None  # None for hf-daily

    @property
    def oai_set(self) -> str | None:
        if self.category is None:
            return None
        archive = self.category.split(".")[0]
        return f"physics:{archive}" if archive in PHYSICS_ARCHIVES else archive


def parse_source(name: str) -> Source:
    """`arxiv:cs.CL` or `hf-daily` (raises BadRequest with the accepted forms)."""
    text = name.strip()
    if text.lower() in (HF_DAILY, "hf"):
        return Source(HF_DAILY)
    if text.lower().startswith("arxiv:"):
        category = text[6:].strip()
        m = _CATEGORY.match(category)
        if m and m[1] in ARCHIVES:
            return Source(f"arxiv:{category}", category)
        raise BadRequest(
            f"{category!r} is not an arXiv category (e.g. cs.CL, cs.LG, stat.ML, hep-th)"
        )
    raise BadRequest(
        f"unknown source {name!r}: use arxiv:<category> (e.g. arxiv:cs.CL) or hf-daily"
    )


def followed_sources(store: Store, settings: Settings) -> list[Source]:
    """Sources from `PAPERFEED_SOURCES` and from `paperfeed sources add`, without repeats."""
    names = [n for n in settings.sources.split(",") if n.strip()]
    names += [s.name for s in store.list_sources()]
    found: dict[str, Source] = {}
    for name in names:
        source = parse_source(name)
        found.setdefault(source.name, source)
    return list(found.values())


def add_source(store: Store, name: str) -> tuple[Source, bool]:
    source = parse_source(name)
    return source, store.add_source(source.name)


def remove_source(store: Store, settings: Settings, name: str) -> Source:
    """Stop following `name` (added with `sources add`); Conflict when PAPERFEED_SOURCES
    still names it, as it stays followed until it is removed there."""
    from paperfeed.errors import NotFound

    source = parse_source(name)
    removed = store.remove_source(source.name)
    configured = {parse_source(n).name for n in settings.sources.split(",") if n.strip()}
    if source.name in configured:
        raise Conflict(
            f"{source.name} is still followed: PAPERFEED_SOURCES names it; remove it there"
            + (" (it was also added with `sources add`: that is undone)" if removed else "")
        )
    if not removed:
        raise NotFound(f"{source.name} is not a followed source (see `paperfeed sources list`)")
    return source


def list_sources(store: Store, settings: Settings) -> list[tuple[Source, str]]:
    """Each followed source with where it comes from ('settings' or 'added')."""
    stored = {s.name: s for s in store.list_sources()}
    out = []
    for source in followed_sources(store, settings):
        out.append((source, "added" if source.name in stored else "settings"))
    return out


@dataclass
class FeedReport:
    """What harvesting one upstream feed did."""

    key: str
    papers: UpsertCounts = field(default_factory=UpsertCounts)
    daily: UpsertCounts = field(default_factory=UpsertCounts)
    records: int = 0
    skipped: int = 0  # records outside the followed categories
    rejected: int = 0
    requests: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        if self.error:
            return f"{self.key}: FAILED: {self.error}"
        if dry_run:
            head = f"{self.records} records parsed, nothing written"
        elif self.papers.added or self.papers.updated or self.daily.added or self.daily.updated:
            p = self.papers
            head = f"added {p.added}, updated {p.updated}, unchanged {p.unchanged} papers"
            if self.daily.added or self.daily.updated:
                head += f"; daily list +{self.daily.added} ~{self.daily.updated}"
        else:
            head = f"nothing new ({self.papers.unchanged} papers unchanged)"
        extra = f"; {self.requests} requests"
        if self.skipped:
            extra += f"; {self.skipped} outside the followed categories"
        if self.rejected:
            extra += f"; rejected {self.rejected}"
        for note in self.notes:
            extra += f"; {note}"
        return f"{self.key}: {head}{extra}"


@dataclass
class HarvestReport:
    feeds: list[FeedReport] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.error]

    @property
    def added(self) -> int:
        return sum(f.papers.added for f in self.feeds)

    def summary(self) -> str:
        lines = [f.line(self.dry_run) for f in self.feeds]
        total = UpsertCounts()
        for f in self.feeds:
            total += f.papers
        tail = (
            f"harvest: {len(self.feeds)} feeds, added {total.added}, updated {total.updated}, "
            f"unchanged {total.unchanged} papers in {self.seconds:.1f}s"
        )
        if self.dry_run:
            tail = f"harvest (dry run): {len(self.feeds)} feeds, nothing written"
        if self.failed:
            tail += f"; FAILED feeds: {len(self.failed)}"
        return "\n".join([*lines, tail])


class _Harvester:
    """One harvest run: shared HTTP client, store, settings and options."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        client: httpx.Client,
        *,
        since: date | None,
        until: date | None,
        dry_run: bool,
        progress: Callable[[str], None],
    ) -> None:
        self.store, self.settings, self.client = store, settings, client
        self.since, self.until, self.dry_run = since, until, dry_run
        self.progress = progress
        self.today = datetime.now(UTC).date()
        self.policy = FetchPolicy(
            user_agent=f"paperfeed/{__version__} (+{settings.base_url})",
            min_interval=settings.fetch_interval,
            retries=settings.fetch_retries,
        )

    def get(self, report: FeedReport, url: str) -> bytes:
        report.requests += 1
        return fetch(self.client, url, self.policy)

    def write(self, report: FeedReport, records: Iterable[Record]) -> None:
        batch = list(records)
        report.records += len(batch)
        if self.dry_run or not batch:
            return
        report.papers += self.store.upsert_papers(r.paper for r in batch)
        report.daily += self.store.upsert_daily(r.daily for r in batch if r.daily)

    def checkpoint(self, key: str, state: dict[str, Any], error: str | None = None) -> None:
        if not self.dry_run:
            self.store.save_checkpoint(key, state, error=error)

    def start_day(self, state: dict[str, Any], name: str) -> date:
        if self.since is not None:
            return self.since
        if state.get(name):
            return date.fromisoformat(state[name])
        return self.today - timedelta(days=FIRST_RUN_DAYS)

    # --- arXiv OAI-PMH ----------------------------------------------------------------------

    def oai(self, set_spec: str, categories: set[str]) -> FeedReport:
        from paperfeed.ingest.oai_pmh import parse_oai_pmh, resumption_token

        key = f"oai:{set_spec}"
        report = FeedReport(key)
        saved = self.store.get_checkpoint(key)
        state = dict(saved.state) if saved else {}
        start = self.start_day(state, "from")
        token = None if self.since else state.get("token")
        newest = state.get("newest") if token else None
        base = self.settings.arxiv_url.rstrip("/") + "/oai2"
        restarted = False
        page = 0
        while True:
            if token:
                query = {"verb": "ListRecords", "resumptionToken": token}
            else:
                query = {
                    "verb": "ListRecords",
                    "metadataPrefix": "arXiv",
                    "set": set_spec,
                    "from": start.isoformat(),
                }
                if self.until:
                    query["until"] = self.until.isoformat()
            url = f"{base}?{urlencode(query)}"
            body = self.get(report, url)
            page += 1
            code = _OAI_ERROR.search(body[:65536])
            if code and code[1] == b"badResumptionToken" and token and not restarted:
                report.notes.append(f"resumption token expired; restarted from {start}")
                log.warning("%s: badResumptionToken, restarting from %s", key, start)
                token, newest, restarted = None, None, True
                continue
            if code and code[1] == b"noRecordsMatch":
                break  # nothing since `start` (holidays, or a second run the same day)
            stamps = {m[1].decode(): m[2].decode() for m in _DATESTAMP.finditer(body)}
            kept = []
            for item in parse_oai_pmh(io.BytesIO(body), url):
                if isinstance(item, Rejected):
                    report.rejected += 1
                    log.info("%s", item)
                    continue
                if not categories.intersection(item.paper.categories):
                    report.skipped += 1
                    continue
                stamp = stamps.get(item.paper.id)
                if stamp and _just_announced(item, date.fromisoformat(stamp)):
                    item.paper.listing_date = date.fromisoformat(stamp)
                kept.append(item)
            self.write(report, kept)
            if stamps:
                newest = max([newest or "", *stamps.values()])
            token = resumption_token(body)
            self.progress(f"{key}: page {page}, {report.records} records so far")
            if token:
                self.checkpoint(key, {"from": start.isoformat(), "token": token, "newest": newest})
                continue
            break
        # Next time from the newest datestamp seen: that day is read again (idempotent), so
        # records the server added to it later are not missed.
        self.checkpoint(key, {"from": max(start.isoformat(), newest or ""), "token": None})
        return report

    # --- arXiv RSS --------------------------------------------------------------------------

    def rss(self, category: str) -> FeedReport:
        key = f"rss:{category}"
        report = FeedReport(key)
        url = self.settings.arxiv_url.rstrip("/") + f"/rss/{category}"
        body = self.get(report, url)
        source = detect_source(body[:HEAD_BYTES], url)
        if source.name != "arxiv_feed":
            raise SourceError(f"{url}: not an arXiv RSS/Atom feed (looks like {source.name})")
        records = []
        for item in source.parse(io.BytesIO(body), url):
            if isinstance(item, Rejected):
                report.rejected += 1
                continue
            records.append(item)
        days = sorted({r.paper.listing_date for r in records if r.paper.listing_date})
        if not records:
            report.notes.append("no announcements in the feed (weekend or holiday)")
        self.write(report, records)
        saved = self.store.get_checkpoint(key)
        last = days[-1].isoformat() if days else (saved.state.get("day") if saved else None)
        self.checkpoint(key, {"day": last})
        self.progress(f"{key}: {report.records} items")
        return report

    # --- Hugging Face daily papers ----------------------------------------------------------

    def hf_daily(self) -> FeedReport:
        from paperfeed.ingest.hf_daily import parse_hf_daily

        report = FeedReport(HF_DAILY)
        saved = self.store.get_checkpoint(HF_DAILY)
        day = self.start_day(dict(saved.state) if saved else {}, "day")
        end = self.until or self.today
        if (end - day).days > MAX_HF_DAYS:
            day = end - timedelta(days=MAX_HF_DAYS)
            report.notes.append(f"reaching back {MAX_HF_DAYS} days only (from {day})")
        base = self.settings.hf_url.rstrip("/") + "/api/daily_papers"
        while day <= end:
            url = f"{base}?{urlencode({'date': day.isoformat()})}"
            records = []
            for item in parse_hf_daily(io.BytesIO(self.get(report, url)), url):
                if isinstance(item, Rejected):
                    report.rejected += 1
                    continue
                records.append(item)
            self.write(report, records)
            self.checkpoint(HF_DAILY, {"day": day.isoformat()})
            self.progress(f"{HF_DAILY}: {day} ({len(records)} papers)")
            day += timedelta(days=1)
        return report


def _just_announced(record: Record, datestamp: date) -> bool:
    """A first version whose datestamp is within days of its submission: a new announce."""
    p = record.paper
    if p.version > 1 or p.published is None:
        return False
    if p.updated is not None and p.updated.date() != p.published.date():
        return False
    return timedelta(0) <= datestamp - p.published.date() <= timedelta(days=NEW_WITHIN_DAYS)


def feed_keys(source: Source) -> list[str]:
    """The checkpoint keys of the feeds `source` is read from."""
    if source.category is None:
        return [HF_DAILY]
    return [f"oai:{source.oai_set}", f"rss:{source.category}"]


def plan(selected: list[Source], followed: list[Source]) -> Iterator[tuple[str, Any]]:
    """The feeds to read for `selected`: one OAI set per archive, one RSS per category, HF.

    An OAI set is filtered by *every* followed category of its archive, not only the selected
    ones: its checkpoint is shared, so skipping a followed category's records would leave a
    gap that later runs never fill.
    """
    sets: dict[str, set[str]] = {}
    for s in [*followed, *selected]:
        if s.category is not None and s.oai_set is not None:
            sets.setdefault(s.oai_set, set()).add(s.category)
    wanted = sorted({s.oai_set for s in selected if s.oai_set is not None})
    for set_spec in wanted:
        yield "oai", (set_spec, sets[set_spec])
    for s in selected:
        if s.category is not None:
            yield "rss", s.category
    if any(s.name == HF_DAILY for s in selected):
        yield "hf", None


def harvest(
    store: Store,
    settings: Settings,
    *,
    source: str | None = None,
    since: date | None = None,
    until: date | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> HarvestReport:
    """Fetch what is new from every followed source (or only `source`)."""
    started = time.perf_counter()
    followed = followed_sources(store, settings)
    sources = followed
    if source is not None:
        wanted = parse_source(source)
        sources = [s for s in followed if s.name == wanted.name] or [wanted]
    if since and until and since > until:
        raise BadRequest("--since must not be after --until")
    report = HarvestReport(dry_run=dry_run)
    say = progress or (lambda message: log.info("%s", message))
    with _one_at_a_time(settings):
        _run_feeds(store, settings, report, sources, followed, since, until, dry_run, say)
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _one_at_a_time(settings: Settings) -> Iterator[None]:
    """An exclusive lock on `<data_dir>/harvest.lock`: the scheduler of each app worker and a
    manual `paperfeed harvest` never run at once (the OS drops it if the process dies)."""
    import fcntl

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "harvest.lock", "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("another harvest is running on this data directory") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_feeds(
    store: Store,
    settings: Settings,
    report: HarvestReport,
    sources: list[Source],
    followed: list[Source],
    since: date | None,
    until: date | None,
    dry_run: bool,
    say: Callable[[str], None],
) -> None:
    headers = {"User-Agent": f"paperfeed/{__version__} (+{settings.base_url})"}
    with httpx.Client(headers=headers, timeout=60.0, follow_redirects=True) as client:
        run = _Harvester(
            store, settings, client, since=since, until=until, dry_run=dry_run, progress=say
        )
        for kind, arg in plan(sources, followed):
            key = {"oai": f"oai:{arg[0] if arg else ''}", "rss": f"rss:{arg}", "hf": HF_DAILY}[kind]
            try:
                if kind == "oai":
                    feed = run.oai(*arg)
                elif kind == "rss":
                    feed = run.rss(arg)
                else:
                    feed = run.hf_daily()
            except (DatabaseUnavailable, StorageError):
                raise  # the store, not this feed: the other feeds could not be stored either
            except (SourceError, PaperfeedError) as exc:
                feed = FeedReport(
                    key, error=exc.message if isinstance(exc, PaperfeedError) else str(exc)
                )
                saved = store.get_checkpoint(key)
                if not dry_run:
                    store.save_checkpoint(key, saved.state if saved else {}, error=feed.error)
                log.warning("%s: %s", key, feed.error)
            report.feeds.append(feed)
            say(feed.line(dry_run))


__all__ = [
    "HF_DAILY",
    "FollowedSource",
    "HarvestReport",
    "Source",
    "add_source",
    "feed_keys",
    "followed_sources",
    "harvest",
    "list_sources",
    "parse_source",
    "remove_source",
]
