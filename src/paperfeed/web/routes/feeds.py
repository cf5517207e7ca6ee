"""RSS 2.0 and Atom feeds: the daily list, trending, and any search (`/feeds/search.xml?q=`)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed import daily
from paperfeed.models import StoredPaper
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.settings import Settings
from paperfeed.trending import trending
from paperfeed.web import searching
from paperfeed.web.deps import SearchDep, SettingsDep, StoreDep

router = APIRouter(prefix="/feeds", tags=["feeds"])
FEED_SIZE = 50
MEDIA = {"xml": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
Format = Literal["xml", "atom"]


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters in some abstracts)."""
    return "".join(c for c in text if c in "\t\n\r" or _xml_char(ord(c)))


def _xml_char(code: int) -> bool:
    return 0x20 <= code < 0xD800 or 0xE000 <= code < 0xFFFE or code > 0xFFFF


def build_feed(
    settings: Settings, *, title: str, path: str, items: list[StoredPaper], fmt: Format
) -> Response:
    base = settings.base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(base + path)
    fg.title(f"{settings.site_name}: {title}")
    fg.link(href=base + "/", rel="alternate")
    fg.link(href=base + path, rel="self")
    fg.description(f"{title} on {settings.site_name}")
    fg.language("en")
    newest = None
    for item in reversed(items):  # feedgen prepends entries
        p = item.paper
        entry = fg.add_entry()
        url = f"{base}/papers/{p.id}"
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(_clean(p.title))
        entry.link(href=url)
        entry.description(_clean(p.abstract))
        if fmt == "atom":
            for name in p.authors[:20]:
                entry.author(name=_clean(name))
        when = (
            item.submitted_at
            or (datetime.combine(item.daily_day, time(), tzinfo=UTC) if item.daily_day else None)
            or p.published
            or datetime(1970, 1, 1, tzinfo=UTC)
        )
        entry.published(when)
        entry.updated(p.updated or when)
        for cat in p.categories:
            entry.category(term=cat)
        newest = max(newest or when, when)
    fg.updated(newest or datetime.now(UTC))
    body = fg.atom_str(pretty=False) if fmt == "atom" else fg.rss_str(pretty=False)
    return Response(body, media_type=MEDIA[fmt])


@router.get("/daily.{fmt}")
@router.get("/daily")
def daily_feed(
    store: StoreDep,
    settings: SettingsDep,
    fmt: Format = "xml",
    date: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The daily list of one day (default: the latest)."""
    period = daily.period_or_latest(store, daily.parse_period(day=date))
    ranked, _ = daily.daily_page(store, period, limit=FEED_SIZE)
    return build_feed(
        settings,
        title=f"Daily Papers {period.key}",
        path=f"/feeds/daily.{fmt}",
        items=[r.item for r in ranked],
        fmt=fmt,
    )


@router.get("/trending.{fmt}")
@router.get("/trending")
def trending_feed(store: StoreDep, settings: SettingsDep, fmt: Format = "xml") -> Response:
    items = [t.item for t in trending(store, limit=FEED_SIZE)]
    return build_feed(
        settings, title="Trending papers", path=f"/feeds/trending.{fmt}", items=items, fmt=fmt
    )


@router.get("/search.{fmt}")
@router.get("/search")
def search_feed(
    request: Request,
    store: StoreDep,
    search: SearchDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    category: Annotated[str | None, Query(max_length=40)] = None,
    has_code: bool = False,
    sort: str | None = None,
    fmt: Format = "xml",
) -> Response:
    """Any search as a feed, e.g. `/feeds/search.xml?q=diffusion&sort=date`."""
    form = searching.make_form(q, category=category, has_code=has_code, sort=sort)
    results = searching.search_papers(store, search, form, limit=FEED_SIZE)
    return build_feed(
        settings,
        title=f"Search: {form.q}",
        path=f"/feeds/search.{fmt}?{request.url.query}",
        items=[r.item for r in results],
        fmt=fmt,
    )
