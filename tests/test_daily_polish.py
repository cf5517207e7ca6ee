"""The daily page as a new user sees it: comment counts apart, dates and years, spacing,
favicon, thumbnails, filters that remove everything, RSS papers' dates, the bundled sample's
categories, and LaTeX/upvotes in digest emails."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from paperfeed.export import bibtex
from paperfeed.ingest import ingest_sources
from paperfeed.latex_text import latex_to_text
from paperfeed.sample import sample_path

HF_COMMENTED = "2608.20335"  # 3 comments on Hugging Face, none here (web_papers.jsonl)


def get(server, path: str, **params) -> httpx.Response:  # noqa: ANN001
    return httpx.get(server.url + path, params=params, timeout=30)


def card_of(page: str, paper_id: str) -> str:
    start = page.index(f'data-paper="{paper_id}"')
    return page[start : page.index("</article>", start)]


def test_hugging_face_comments_are_shown_apart_from_local_ones(web_server) -> None:  # noqa: ANN001
    card = card_of(get(web_server, "/", date="2026-08-21").text, HF_COMMENTED)
    assert ">0 comments</a>" in card and "3 on Hugging Face" in card
    page = get(web_server, f"/papers/{HF_COMMENTED}").text
    assert "Comments (0)" in page and "3 on Hugging Face" in page


def test_meta_line_spacing_and_years(web_server) -> None:  # noqa: ANN001
    page = get(web_server, f"/papers/{HF_COMMENTED}").text
    meta = re.search(r'<p class="meta">(.*?)</p>', page, re.S)[1]
    meta = " ".join(meta.split())
    assert re.search(r"Published \w{3} \d+, \d{4} · on the daily list Aug 21, 2026", meta), meta
    assert not re.search(r"\S·", meta)
    # Cards show the year for days of other years than this one.
    old = get(web_server, "/", date="2025-11-27").text
    this_year = datetime.now(UTC).year
    expected = "Nov 27" if this_year == 2025 else "Nov 27, 2025"
    assert f'<time class="date" datetime="2025-11-27">{expected}</time>' in old


def test_favicon_and_thumbnails(web_server) -> None:  # noqa: ANN001
    assert '<link rel="icon" href="/static/favicon.svg"' in get(web_server, "/").text
    icon = get(web_server, "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    first = get(web_server, f"/papers/{HF_COMMENTED}/thumbnail.svg")
    assert first.status_code == 200 and first.headers["content-type"].startswith("image/svg")
    assert first.content == get(web_server, f"/papers/{HF_COMMENTED}/thumbnail.svg").content
    title = get(web_server, f"/api/papers/{HF_COMMENTED}").json()["title"]
    assert title.split()[0] in first.text and HF_COMMENTED in first.text
    other = get(web_server, "/papers/2608.19880/thumbnail.svg")
    assert other.content != first.content
    assert get(web_server, "/papers/2799.99999/thumbnail.svg").status_code == 404
    assert f'src="/papers/{HF_COMMENTED}/thumbnail.svg"' in get(web_server, "/").text


def test_search_says_when_the_filters_removed_everything(web_server) -> None:  # noqa: ANN001
    plain = get(web_server, "/search", q="language models").text
    assert 'class="card"' in plain
    filtered = get(web_server, "/search", q="language models", category="astro-ph.EP").text
    assert 'class="card"' not in filtered
    assert "removed all of them" in filtered and "category astro-ph.EP" in filtered
    assert 'href="/search?q=language%20models">Search without filters' in filtered


def test_subscription_checkbox_sits_beside_its_label(web_server) -> None:  # noqa: ANN001
    css = get(web_server, "/static/style.css").text
    assert ".stack label.check { display: flex;" in css


def test_rss_papers_carry_the_feeds_announce_date(fresh_store, fixtures_dir: Path) -> None:  # noqa: ANN001
    report = ingest_sources(fresh_store, [str(fixtures_dir / "arxiv_rss_stat_2024-03-26.xml")])
    assert report.records > 100
    listed = [i for i in fresh_store.list_papers(limit=200) if i.paper.listing_date]
    assert listed and all(i.paper.published is None for i in listed)
    item = listed[0]
    assert item.paper.listing_date.isoformat() == "2024-03-26"
    assert "year = {2024}" in bibtex(item)


def test_bundled_sample_has_categories() -> None:
    with gzip.open(sample_path(), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    with_cats = [r for r in rows if r.get("categories")]
    assert len(with_cats) > len(rows) * 0.6
    assert all(r["primary_category"] == r["categories"][0] for r in with_cats)


def test_latex_becomes_readable_text() -> None:
    text = latex_to_text(
        r"An $O(n^2)$ bound for $\alpha$-stable $\mathbb{R}^d$, $\frac{1}{2}$, $x_i \leq 10^{-3}$,"
        r" Erd\H{o}s, Schr\"odinger, {\em $\varepsilon$-DP} and $\widetilde{O}(\sqrt{T})$"
    )
    assert text == (
        "An O(n²) bound for α-stable ℝᵈ, 1/2, xᵢ ≤ 10⁻³, Erdős, Schrödinger, ε-DP and O(√T)"
    )
    assert latex_to_text("Plain words, 50% off") == "Plain words, 50% off"
