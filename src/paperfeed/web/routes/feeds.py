"""RSS 2.0 and Atom feeds: the daily list, trending, and any search (`/feeds/search.xml?q=`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed import daily
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.trending import trending
from paperfeed.web import searching
from paperfeed.web.deps import SearchDep, SettingsDep, StoreDep
from paperfeed.web.feeds import Format, build_feed

router = APIRouter(prefix="/feeds", tags=["feeds"])
FEED_SIZE = 50


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
        path=f"/feeds/daily.{fmt}" + (f"?date={period.key}" if date else ""),
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
    since: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    has_code: bool = False,
    sort: str | None = None,
    fmt: Format = "xml",
) -> Response:
    """Any search as a feed, with the search page's filters, e.g.
    `/feeds/search.xml?q=diffusion&since=2026-01-01&sort=date`."""
    form = searching.make_form(
        q, since=since, until=until, category=category, has_code=has_code, sort=sort
    )
    results = searching.search_papers(store, search, form, limit=FEED_SIZE)
    return build_feed(
        settings,
        title=f"Search: {form.q}",
        path=f"/feeds/search.{fmt}?{request.url.query}",
        items=[r.item for r in results],
        fmt=fmt,
    )
