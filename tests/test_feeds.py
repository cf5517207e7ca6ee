"""RSS 2.0 and Atom feeds, checked with feedparser."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import httpx
import pytest

MATH_TITLES = Path(__file__).resolve().parent / "fixtures" / "web_math_titles.jsonl"
MATH_DAY = "2026-02-03"


def ingest_math_papers(cli, tmp_path: Path) -> None:  # noqa: ANN001
    """The real arXiv papers with LaTeX in their titles, on the daily list of MATH_DAY."""
    rows = [json.loads(line) for line in MATH_TITLES.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "math.jsonl"
    path.write_text("".join(json.dumps({**r, "daily_date": MATH_DAY}) + "\n" for r in rows))
    assert cli("ingest", str(path), "--no-index").exit_code == 0


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


LONG_TITLE = "Scaling " * 400
HOSTILE_FEED = [
    (
        "2502.00001",
        "Regret $\\widetilde{O}(\\sqrt{T})$ & <b>bold</b> \x07 \U0001f680 \ufffe",
        ["cs.LG\x01"],
    ),
    ("2502.00002", LONG_TITLE, ["\x0b", "cs.AI"]),
    ("2502.00003", "A paper without authors", []),
]


@pytest.fixture
def hostile_feeds(cli, data_dir, tmp_path):  # noqa: ANN001, ANN201
    from fastapi.testclient import TestClient

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    rows = [
        {
            "arxiv_id": paper_id,
            "title": title,
            "abstract": "Abstract with <img src=x onerror=alert(1)> & \x0c a form feed.",
            "authors": ["Zoë \x01Ødegård"] if cats else [],
            "categories": cats,
            "published": "2025-01-02T10:00:00Z",
            "daily_date": "2025-01-03",
        }
        for paper_id, title, cats in HOSTILE_FEED
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert cli("ingest", str(path), "--no-index").exit_code == 0
    settings = load_settings(
        data_dir=data_dir, secret_key="k" * 32, base_url="https://example.org/papers"
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("fmt", ["xml", "atom"])
def test_hostile_papers_keep_the_feed_valid(hostile_feeds, fmt: str) -> None:  # noqa: ANN001
    r = hostile_feeds.get(f"/feeds/daily.{fmt}?date=2025-01-03")
    assert r.status_code == 200, r.text[:300]
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    entries = {e.link.rsplit("/", 1)[1]: e for e in feed.entries}
    assert sorted(entries) == ["2502.00001", "2502.00002", "2502.00003"]
    first = entries["2502.00001"]
    assert first.title == "Regret O(√T) & <b>bold</b>  \U0001f680"  # no KaTeX in readers
    assert [t.term for t in first.tags] == ["cs.LG"]
    assert [t.term for t in entries["2502.00002"].tags] == ["cs.AI"]
    assert entries["2502.00002"].title == " ".join(LONG_TITLE.split())
    assert "<img" not in first.summary or fmt == "atom"  # RSS: shown as text, never a tag
    assert first.link == "https://example.org/papers/papers/2502.00001"
    assert first.published_parsed[:3] == (2025, 1, 3)
    # a feed of another day is another feed: its own id and self link
    self_link = next(link.href for link in feed.feed.links if link.rel == "self")
    assert self_link == f"https://example.org/papers/feeds/daily.{fmt}?date=2025-01-03"
    assert feed.feed.link == "https://example.org/papers/"  # the site (RSS: channel <link>)
    if fmt == "atom":
        assert feed.feed.id == self_link
        assert [a.name for a in first.authors] == ["Zoë Ødegård"]
        # RFC 4287 4.1.1: the feed has an author, as an entry without one needs
        assert (
            feed.feed.author_detail.name == "paperfeed" and "authors" not in entries["2502.00003"]
        )


@pytest.mark.parametrize("fmt", ["xml", "atom"])
def test_entry_ids_survive_another_port(cli, data_dir, tmp_path, fmt: str) -> None:  # noqa: ANN001
    """Without PAPERFEED_BASE_URL the links follow serve's address; the entry ids must not,
    or a restart on another port shows every paper in a reader as new again."""
    from fastapi.testclient import TestClient

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    ingest_math_papers(cli, tmp_path)
    seen = []
    for port in (8000, 8123):
        settings = load_settings(data_dir=data_dir, secret_key="k" * 32, base_url="")
        settings.use_served_url(f"http://127.0.0.1:{port}")
        with TestClient(create_app(settings)) as client:
            feed = feedparser.parse(client.get(f"/feeds/daily.{fmt}?date={MATH_DAY}").content)
        assert feed.bozo == 0 and feed.entries
        assert all(e.link.startswith(f"http://127.0.0.1:{port}/papers/") for e in feed.entries)
        seen.append([e.id for e in feed.entries])
    assert seen[0] == seen[1]
    paper_id = feed.entries[0].link.rsplit("/", 1)[1]
    assert feed.entries[0].id == f"https://arxiv.org/abs/{paper_id}"
    if fmt == "xml":  # the guid is an id, not the page to open (that is the link)
        assert feed.entries[0].guidislink is False


def test_feed_updated_is_the_latest_entry_update(cli, data_dir, tmp_path) -> None:  # noqa: ANN001
    """RFC 4287 4.2.15: a paper's new arXiv version changes the feed, so the feed's updated
    is the newest entry's updated, not the newest listing; no entry changes before it is
    published."""
    from fastapi.testclient import TestClient

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    rows = [
        {"arxiv_id": "2602.10001", "title": "Old paper, new version", "abstract": "A.",
         "published": "2026-01-05T10:00:00Z", "updated": "2026-02-20T09:30:00Z"},
        {"arxiv_id": "2602.10002", "title": "Newer paper", "abstract": "B.",
         "published": "2026-02-02T10:00:00Z", "updated": "2026-02-02T10:00:00Z"},
        {"arxiv_id": "2602.10003", "title": "Updated before its listing", "abstract": "C.",
         "published": "2025-12-01T10:00:00Z", "updated": "2025-12-02T10:00:00Z"},
    ]  # fmt: skip
    path = tmp_path / "versions.jsonl"
    path.write_text("".join(json.dumps({**r, "daily_date": MATH_DAY}) + "\n" for r in rows))
    assert cli("ingest", str(path), "--no-index").exit_code == 0
    settings = load_settings(data_dir=data_dir, secret_key="k" * 32, base_url="http://x.test")
    with TestClient(create_app(settings)) as client:
        feed = feedparser.parse(client.get(f"/feeds/daily.atom?date={MATH_DAY}").content)
    assert feed.bozo == 0 and len(feed.entries) == 3
    entries = {e.link.rsplit("/", 1)[1]: e for e in feed.entries}
    assert entries["2602.10001"].updated.startswith("2026-02-20T09:30:00")
    assert feed.feed.updated_parsed == max(e.updated_parsed for e in feed.entries)
    assert feed.feed.updated.startswith("2026-02-20T09:30:00")
    for e in feed.entries:
        assert e.updated_parsed >= e.published_parsed


@pytest.mark.parametrize("fmt", ["xml", "atom"])
def test_feeds_show_latex_as_text(cli, data_dir, tmp_path, fmt: str) -> None:  # noqa: ANN001
    """Feed readers run no KaTeX: titles and summaries carry the math as Unicode text."""
    from fastapi.testclient import TestClient

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    ingest_math_papers(cli, tmp_path)
    settings = load_settings(data_dir=data_dir, secret_key="k" * 32, base_url="http://x.test")
    with TestClient(create_app(settings)) as client:
        feed = feedparser.parse(client.get(f"/feeds/daily.{fmt}?date={MATH_DAY}").content)
    assert feed.bozo == 0
    entries = {e.link.rsplit("/", 1)[1]: e for e in feed.entries}
    olion, dispersed = entries["2602.01105"], entries["2602.04626"]
    assert olion.title == (
        "OLion: Approaching the Hadamard Ideal by Intersecting Spectral and ℓ_∞ Implicit Biases"
    )
    assert dispersed.title == "The Most Dispersed Subset of Random Points in ℝᵈ"
    assert "with ℓ_∞-style coordinate control" in olion.summary
    assert "M≤ N individuals" in dispersed.summary
    for entry in feed.entries:
        assert "$" not in entry.title + entry.summary and "\\" not in entry.title + entry.summary
