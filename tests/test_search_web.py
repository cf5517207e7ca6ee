"""Search as a new user meets it, over HTTP: sort over all matches, highlighting by the
engine's stems, the no-close-match notice, dates with years on cards."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from search_helpers import WEB_PAPERS, make_env, paper

from paperfeed.models import DailyEntry
from paperfeed.search import sync_keyword_index

THIS_YEAR = datetime.now(UTC).year
STRONG = 240  # more strong "diffusion" matches than any relevance candidate pool holds


def _corpus() -> list:  # type: ignore[type-arg]
    papers = [
        paper(
            f"2401.{i:05d}",
            f"Diffusion diffusion models, part {i}",
            "Diffusion. We study diffusion: diffusion models, diffusion sampling and "
            f"diffusion guidance for image synthesis, variant {i}.",
            published=datetime(2024, 1 + i % 12, 1 + i % 28, tzinfo=UTC),
        )
        for i in range(STRONG)
    ]
    filler = " ".join(f"word{i}" for i in range(120))
    papers += [
        # the newest paper with the word, once, in a long abstract: a weak relevance match
        paper(
            "2608.99001",
            "A survey of generative modelling",
            f"{filler} We mention diffusion once. {filler}",
            published=datetime(2026, 8, 25, tzinfo=UTC),
        ),
        # newer, but not a match
        paper(
            "2608.99002",
            "Graph partitioning heuristics",
            "Multilevel graph partitioning with refinement.",
            published=datetime(2026, 8, 26, tzinfo=UTC),
        ),
        # the most upvoted match, old and weak
        paper(
            "2301.99003",
            "Notes on stochastic processes",
            f"{filler} Brownian motion and diffusion. {filler}",
            published=datetime(2023, 1, 5, tzinfo=UTC),
        ),
        paper(
            "2501.99004",
            "Contextual Bandit exploration with side information",
            "A Bandit algorithm that explores with side information; decision boundaries are "
            "learnt online.",
            published=datetime(2019, 3, 1, tzinfo=UTC),
        ),
        paper(
            f"{THIS_YEAR % 100:02d}01.99005",
            "Upper bound on regret for linear bandits",
            "We prove an upper bound on the regret of linear bandits.",
            published=datetime(THIS_YEAR, 1, 15, tzinfo=UTC),
        ),
    ]
    return papers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    data: Path = tmp_path_factory.mktemp("search-web") / "data"
    settings, store = make_env(data, WEB_PAPERS)
    try:
        store.upsert_papers(_corpus())
        store.upsert_daily([DailyEntry("2301.99003", date(2023, 1, 6), upvotes=5000)])
        sync_keyword_index(store, settings)
    finally:
        store.close()
    settings = load_settings(data_dir=data, secret_key="test-secret-key-for-search-web")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def page(url: str, **params: str) -> str:
    r = httpx.get(url + "/search", params=params, timeout=60)
    assert r.status_code == 200
    return r.text


def card_ids(html: str) -> list[str]:
    return re.findall(r'<article class="card" data-paper="([^"]+)"', html)


def test_sort_by_date_orders_every_match_not_a_relevance_top_n(server: str) -> None:
    html = page(server, q="diffusion", sort="date")
    ids = card_ids(html)
    # the newest match is first although 240 papers match the word better
    assert ids[0] == "2608.99001"
    assert "2608.99002" not in ids  # newer, but does not match
    total = re.search(r"of ([0-9,]+) matching papers, newest first", html)
    assert total and int(total.group(1).replace(",", "")) >= STRONG + 2
    days = re.findall(r'<time class="date" datetime="([0-9-]+)"', html)
    assert days == sorted(days, reverse=True) and len(days) == len(ids)


def test_sort_by_date_in_feeds_too(server: str) -> None:
    r = httpx.get(server + "/feeds/search.xml", params={"q": "diffusion", "sort": "date"})
    assert r.status_code == 200
    first = r.text.index("<item>")
    assert "2608.99001" in r.text[first : r.text.index("</item>", first)]


def test_sort_by_upvotes_orders_every_match(server: str) -> None:
    ids = card_ids(page(server, q="diffusion", sort="upvotes"))
    assert ids[0] == "2301.99003"  # 5000 upvotes, a weak relevance match


def test_highlighting_marks_what_the_stemmer_matched(server: str) -> None:
    html = page(server, q="bandits")
    assert "<mark>Bandit</mark>" in html  # "bandits" and "Bandit" share the stem "bandit"
    bound = page(server, q="bound side information")
    assert "<mark>bound</mark>" in bound and "<mark>side</mark>" in bound
    assert "boundaries" in bound  # the Bandit paper is listed, its "boundaries" unmarked
    assert "<mark>boundaries</mark>" not in bound
    assert "<mark>on</mark>" not in page(server, q="bound on regret")  # stop words: no mark


def test_no_close_match_says_so_and_shows_the_nearest(server: str) -> None:
    html = page(server, q="xqzvw ∂∫≈ 日本語")
    assert "No close matches" in html and "nearest papers shown" in html
    assert len(card_ids(html)) > 0
    assert "No close matches" not in page(server, q="diffusion guidance")


def test_cards_show_the_year_unless_it_is_this_year(server: str) -> None:
    html = page(server, q="bandit exploration side information")
    assert "Mar 1, 2019" in html
    this_year = page(server, q="upper bound regret linear bandits")
    assert re.search(r">Jan 15</time>", this_year)
    assert f"Jan 15, {THIS_YEAR}" not in this_year


def test_similar_papers_show_dates_with_years(server: str) -> None:
    r = httpx.get(server + "/papers/2401.00003", timeout=60)
    assert r.status_code == 200
    similar = r.text[r.text.index("Similar") :]
    assert re.search(
        r'<time class="date" datetime="2024-[0-9-]+">[A-Z][a-z]{2} \d+, 2024<', similar
    )


def test_more_results_links_lead_to_pages_that_answer(server: str) -> None:
    """Following "More results" from the first page ends on the last page the site serves
    (200 results): no link to a page that is a 400."""
    url, pages = "/search?q=diffusion", 0
    while url:
        r = httpx.get(server + url, timeout=60)
        assert r.status_code == 200, (url, r.status_code)
        pages += 1
        more = re.search(r'rel="next" href="([^"]+)"', r.text)
        url = "/search" + more.group(1).replace("&amp;", "&") if more else ""
    assert pages == 10  # more than 200 papers match: all ten pages, and no eleventh


def feed_and_export_links(html: str) -> list[str]:
    return [
        href.replace("&amp;", "&")
        for href in re.findall(r'href="(/(?:feeds|api/export)/search[^"]*)"', html)
    ]


def test_feeds_and_exports_of_a_filtered_search_keep_its_filters(server: str) -> None:
    links = feed_and_export_links(page(server, q="diffusion", sort="date", has_code="1"))
    assert len(links) == 5, links  # RSS, Atom, BibTeX, RIS, CSV
    for link in links:
        assert "sort=date" in link and "has_code=1" in link, link
    links = feed_and_export_links(page(server, q="diffusion", category="cs.LG"))
    assert all("category=cs.LG" in link for link in links), links

    html = page(server, q="diffusion", sort="date")
    (csv_link,) = [link for link in feed_and_export_links(html) if "format=csv" in link]
    exported = httpx.get(server + csv_link, timeout=60)
    assert exported.status_code == 200
    rows = [line.split(",")[0] for line in exported.text.splitlines()[1:]]
    shown = card_ids(html)
    assert len(shown) == 20 and rows[:20] == shown  # the file lists the page's papers, in order


def test_feeds_and_exports_of_a_dated_search_keep_its_dates(server: str) -> None:
    """The page's since/until filters reach its RSS, Atom and export links, and those
    routes apply them: the files list the papers the page shows, none outside the dates."""
    import feedparser

    dates = {"since": "2024-03-01", "until": "2024-04-30"}
    html = page(server, q="diffusion", sort="date", **dates)
    shown = card_ids(html)
    assert len(shown) == 20
    links = feed_and_export_links(html)
    assert len(links) == 5, links
    for link in links:
        assert "since=2024-03-01" in link and "until=2024-04-30" in link, link
        r = httpx.get(server + link, timeout=60)
        assert r.status_code == 200, r.text[:300]
        if link.startswith("/feeds/"):
            feed = feedparser.parse(r.content)
            assert feed.bozo == 0
            ids = [e.link.rsplit("/", 1)[1] for e in feed.entries]
            for e in feed.entries:
                assert (2024, 3, 1) <= tuple(e.published_parsed[:3]) <= (2024, 4, 30), e.link
        elif "format=csv" in link:
            ids = [line.split(",")[0] for line in r.text.splitlines()[1:]]
        else:
            continue
        assert ids[:20] == shown, link
        # the dated search has fewer papers than the undated one would give
        assert len(ids) < 50, link
