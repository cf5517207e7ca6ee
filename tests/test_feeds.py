"""RSS 2.0 and Atom feeds, checked with feedparser."""

from __future__ import annotations

import feedparser
import httpx
import pytest


def parsed(server, path: str) -> feedparser.FeedParserDict:  # noqa: ANN001
    r = httpx.get(server.url + path, timeout=30)
    assert r.status_code == 200, r.text[:300]
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/feeds/daily.xml", "rss20"),
        ("/feeds/daily", "rss20"),
        ("/feeds/daily.atom", "atom10"),
        ("/feeds/daily.xml?date=2026-08-20", "rss20"),
        ("/feeds/trending.xml", "rss20"),
        ("/feeds/trending.atom", "atom10"),
    ],
)
def test_feeds_are_valid(web_server, path: str, version: str) -> None:  # noqa: ANN001
    feed = parsed(web_server, path)
    assert feed.version == version
    assert feed.entries
    for entry in feed.entries:
        assert entry.title and entry.summary
        assert entry.link.startswith(web_server.url + "/papers/")


def test_daily_feed_matches_the_list(web_server) -> None:  # noqa: ANN001
    feed = parsed(web_server, "/feeds/daily.xml?date=2026-08-20")
    api = httpx.get(web_server.url + "/api/daily_papers?date=2026-08-20&limit=50").json()
    assert [e.link.rsplit("/", 1)[1] for e in feed.entries] == [i["paper"]["id"] for i in api]


def test_feed_bad_date(web_server) -> None:  # noqa: ANN001
    r = httpx.get(web_server.url + "/feeds/daily.xml?date=2026-99-01")
    assert r.status_code == 400


@pytest.mark.parametrize(
    "path", ["/feeds/search?q=upper+bound", "/feeds/search.atom?q=upper+bound"]
)
def test_any_search_as_a_feed(web_server, path: str) -> None:  # noqa: ANN001
    feed = parsed(web_server, path)
    api = httpx.get(web_server.url + "/api/papers/search?q=upper+bound&limit=50").json()
    assert [e.link.rsplit("/", 1)[1] for e in feed.entries] == [i["paper"]["id"] for i in api]
    assert "upper bound" in feed.feed.title


def test_search_feed_needs_a_query(web_server) -> None:  # noqa: ANN001
    assert httpx.get(web_server.url + "/feeds/search").status_code == 400
