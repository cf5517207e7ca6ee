"""Server-rendered pages: daily views and navigation, paper page, submit, errors, escaping."""

from __future__ import annotations

import re

import httpx
import pytest
from conftest import Visitor

LATEST_DAY = "2026-08-21"


def get(server, path: str, **params) -> httpx.Response:  # noqa: ANN001
    return httpx.get(server.url + path, params=params, timeout=30)


def test_home_shows_latest_day_with_cards(web_server) -> None:  # noqa: ANN001
    r = get(web_server, "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "Daily Papers" in page and "Aug 21, 2026" in page
    assert page.count('class="card"') >= 5
    assert 'class="comments"' in page and 'class="upvote' in page
    assert 'rel="prev" class="prev" href="/?date=2026-08-20"' in page
    assert 'rel="next"' not in page  # nothing after the latest day
    assert '<input type="date" name="date" value="2026-08-21"' in page
    assert 'action="/subscribe" method="post"' in page and 'name="csrf_token"' in page


def test_previous_day_and_code_links(web_server) -> None:  # noqa: ANN001
    page = get(web_server, "/", date="2026-08-20").text
    assert "Aug 20, 2026" in page
    assert 'href="/?date=2026-08-19"' in page and 'href="/?date=2026-08-21"' in page
    assert 'class="code"' in page  # papers of that day with a GitHub repository


def test_weekly_and_monthly_views(web_server) -> None:  # noqa: ANN001
    week = get(web_server, "/", view="week", date="2026-08-20").text
    assert "Week of Aug 17, 2026" in week
    assert week.count('class="card"') >= get(web_server, "/", date="2026-08-20").text.count(
        'class="card"'
    )
    month = get(web_server, "/", view="month", date="2026-08-20").text
    assert "August 2026" in month and 'class="periods"' in month


def test_new_badge_follows_the_catalogue_clock(web_server) -> None:  # noqa: ANN001
    # A stale catalogue: its newest daily list (Aug 21) is "new", the day before is not.
    assert 'class="badge new"' in get(web_server, "/", date=LATEST_DAY).text
    assert 'class="badge new"' not in get(web_server, "/", date="2026-08-20").text
    v = Visitor(web_server)
    v.sign_up("submitter@example.org")
    r = v.post_form("/submit", {"arxiv_id": "1312.7288v1"}, page="/submit")
    assert r.status_code == 303 and r.headers["location"] == "/papers/1312.7288"
    home = get(web_server, "/").text  # today's list now has the submitted paper
    assert 'class="badge new"' in home and "submitted by submitter" in home
    # Today is now the catalogue's newest day: Aug 21 is no longer new.
    assert 'class="badge new"' not in get(web_server, "/", date=LATEST_DAY).text


def test_submit_unknown_paper_offline(web_server) -> None:  # noqa: ANN001
    v = Visitor(web_server)
    assert "Sign in" in v.http.get("/submit").text
    v.sign_up("offline@example.org")
    r = v.post_form("/submit", {"arxiv_id": "2701.99999"}, page="/submit")
    assert r.status_code == 404 and "not in the catalogue" in r.text
    r = v.post_form("/submit", {"arxiv_id": "2410.03017"}, page="/submit")
    assert r.status_code == 409 and "already on the daily list of 2024-10-07" in r.text


def test_paper_page(web_server) -> None:  # noqa: ANN001
    page = get(web_server, "/papers/2608.17253").text
    assert "https://arxiv.org/abs/2608.17253" in page and "https://arxiv.org/pdf/2608.17253" in page
    assert re.search(r'href="https://github.com/[^"]+"[^>]*class="code"', page)
    assert '<textarea class="bibtex"' in page and "@misc{" in page
    assert 'id="comments"' in page
    assert "/static/katex/katex.min.js" in page and "/static/katex/auto-render.min.js" in page
    # (CSRF tokens are random: one may spell "cdn")
    assert "cdn" not in re.sub(r'name="csrf_token" value="[^"]*"', "", page).lower()


def test_latex_and_special_characters_are_escaped(web_server) -> None:  # noqa: ANN001
    api = get(web_server, "/api/papers/2401.12819").json()
    assert "$j<i$" in api["summary"]
    page = get(web_server, "/papers/2401.12819").text
    abstract = page.split('id="abstract">', 1)[1].split("</div>", 1)[0]
    assert "<" not in re.sub(r"<a href=[^>]+>|</a>|</?p>", "", abstract)
    assert "$j&lt;i$" in abstract  # escaped, and left for KaTeX to render in the browser


def test_katex_assets_are_served_locally(web_server) -> None:  # noqa: ANN001
    for path in (
        "/static/katex/katex.min.js",
        "/static/katex/katex.min.css",
        "/static/katex/auto-render.min.js",
        "/static/katex/fonts/KaTeX_Main-Regular.woff2",
    ):
        assert get(web_server, path).status_code == 200, path
    css = get(web_server, "/static/katex/katex.min.css").text
    for font in re.findall(r"url\((fonts/[^)]+)\)", css):
        assert get(web_server, "/static/katex/" + font).status_code == 200, font


def test_trending_page_explains_scores(web_server) -> None:  # noqa: ANN001
    page = get(web_server, "/trending").text
    assert "Trending papers" in page
    assert re.search(r'class="rank" title="\(\d+ upvotes \+ 1\) / \(\d+ h \+ 2\)\^1.5 = ', page)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/?date=2026-02-30", 400),
        ("/?date=soon", 400),
        ("/?p=-3", 400),
        ("/papers/0000.00000", 404),
        ("/no/such/page", 404),
    ],
)
def test_error_pages_are_html(web_server, path: str, status: int) -> None:  # noqa: ANN001
    r = httpx.get(web_server.url + path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert f"<h1>{status} " in r.text and "Back to the daily papers" in r.text


def test_sign_in_redirects_only_to_local_paths(web_server) -> None:  # noqa: ANN001
    v = Visitor(web_server)
    v.sign_up("redirect@example.org")
    v2 = Visitor(web_server)
    r = v2.post_form(
        "/signin",
        {
            "email": "redirect@example.org",
            "password": "correct horse battery",
            "next": "//evil.example/",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_search_page_marks_terms_and_filters(web_server) -> None:  # noqa: ANN001
    page = get(web_server, "/search", q="upper bound").text
    assert 'value="upper bound"' in page
    cards = page.count('class="card"')
    assert cards >= 5
    assert "<mark>upper</mark> <mark>bound" in page
    assert page.count('class="abstract"') == cards  # title + abstract per result
    filtered = get(web_server, "/search", q="upper bound", has_code="1", sort="date").text
    assert 'name="has_code" value="1" checked' in filtered
    shown = filtered.count('class="card"')
    assert 0 < shown < cards
    assert filtered.count('class="code"') >= shown  # every filtered result links its code


def test_search_handles_odd_input(web_server) -> None:  # noqa: ANN001
    for q in ['"unclosed', "a AND OR (", "$\\mathcal{O}(\\sqrt{K})$", "<script>x</script>", "ü∑"]:
        r = get(web_server, "/search", q=q)
        assert r.status_code == 200, q
        assert "<script>x</script>" not in r.text
    assert get(web_server, "/search", q="x" * 251).status_code == 400
    assert get(web_server, "/search", q="bound", since="2026-99-01").status_code == 400
    assert get(web_server, "/search", q="bound", sort="random").status_code == 400


def test_paper_page_lists_similar_papers(web_server) -> None:  # noqa: ANN001
    page = get(web_server, "/papers/2608.17253").text
    similar = page.split("<h2>Similar papers</h2>", 1)[1]
    assert similar.count('class="card"') >= 3
    assert 'data-paper="2608.17253"' not in similar


def test_search_page_offers_feeds_and_exports_and_no_template_has_conflict_markers(
    web_server,  # noqa: ANN001
) -> None:
    page = get(web_server, "/search", q="diffusion").text
    assert "<<<<<<<" not in page and ">>>>>>>" not in page
    assert "/feeds/search.xml?q=diffusion" in page
    assert "/api/export/search?q=diffusion&amp;format=bibtex" in page
    from pathlib import Path

    import paperfeed.web

    templates = Path(paperfeed.web.__file__).parent / "templates"
    for template in templates.glob("*.html"):
        for line in template.read_text().splitlines():
            assert not line.startswith(("<<<<<<< ", "=======", ">>>>>>> ")), template.name


def test_signing_in_from_the_header_comes_back_to_the_same_page(web_server) -> None:  # noqa: ANN001
    """The header's "Sign in" and "Sign up" links keep the page's query (a search, a day)."""
    here = "/search?q=diffusion+models&sort=date"
    v = Visitor(web_server)
    v.sign_up("header-signin@example.org")
    v.http.cookies.clear()
    page = v.http.get(here).text
    for mode in ("signin", "signup"):
        link = re.search(rf'<a href="(/{mode}\?next=[^"]+)">', page)
        assert link, mode
        form = v.http.get(link.group(1).replace("&amp;", "&")).text
        field = re.search(r'name="next" value="([^"]+)"', form)
        assert field and field.group(1).replace("&amp;", "&") == here, (mode, field)
    r = v.post_form(
        "/signin",
        {"email": "header-signin@example.org", "password": "correct horse battery", "next": here},
    )
    assert r.status_code == 303 and r.headers["location"] == here


def test_upvoting_on_a_later_page_of_a_collection_comes_back_to_that_page(web_server) -> None:  # noqa: ANN001
    v = Visitor(web_server)
    v.sign_up("pages-collection@example.org")
    r = v.post_form(
        "/collections", {"name": "Long reading list", "public": "true"}, page="/library"
    )
    assert r.status_code == 303
    where = r.headers["location"]
    ids = [p["id"] for p in v.http.get("/api/papers", params={"limit": 60}).json()]
    token = v.csrf("/library")
    for paper_id in ids[:55]:
        r = v.http.post(
            f"/api{where}/papers", json={"arxivId": paper_id}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 201, r.text
    page = v.http.get(where, params={"p": 1}).text
    assert 'class="card"' in page
    nexts = set(re.findall(r'name="next" value="([^"]*)"', page))
    assert nexts == {f"{where}?p=1"}, nexts


def test_a_new_collection_for_an_unknown_paper_is_not_created(web_server) -> None:  # noqa: ANN001
    """'New collection' from a paper page names the paper to save: an unknown one is a 404
    and leaves no empty collection behind (a retry said the name was taken)."""
    v = Visitor(web_server)
    v.sign_up("new-collection@example.org")
    r = v.post_form("/collections", {"name": "Kept", "paper_id": "2999.99999"}, page="/library")
    assert r.status_code == 404, r.text[:300]
    assert v.http.get("/api/collections").json() == []
    r = v.post_form("/collections", {"name": "Kept", "paper_id": "2608.17271v1"}, page="/library")
    assert r.status_code == 303, r.text[:300]
    (collection,) = v.http.get("/api/collections").json()
    assert collection["name"] == "Kept" and collection["numPapers"] == 1, collection


def test_library_forms_sent_twice_land_where_the_first_did(web_server) -> None:  # noqa: ANN001
    """A double click sends a form twice: "Unfollow" and "remove" ask for what the first
    request already did, and answer the same redirect (they were a 404 page)."""
    v = Visitor(web_server)
    v.sign_up("double-click@example.org")
    paper = "2608.17271"
    follow = {"kind": "author", "value": "Ada Lovelace", "next": f"/papers/{paper}#library"}
    assert v.post_form("/follows", follow, page="/library").status_code == 303
    for _ in range(2):
        r = v.post_form("/follows", {**follow, "action": "unfollow"}, page="/library")
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{paper}#library"
    r = v.post_form("/collections", {"name": "Twice", "paper_id": paper}, page="/library")
    assert r.status_code == 303
    (collection,) = v.http.get("/api/collections").json()
    for _ in range(2):
        r = v.post_form(
            f"/collections/{collection['id']}/remove", {"paper_id": paper}, page="/library"
        )
        assert r.status_code == 303, r.text[:300]
    for _ in range(2):
        r = v.post_form(
            f"/papers/{paper}/save",
            {"collection_id": str(collection["id"]), "action": "remove"},
            page="/library",
        )
        assert r.status_code == 303, r.text[:300]
    # someone else's collection is still refused
    other = Visitor(web_server)
    other.sign_up("double-click-other@example.org")
    r = other.post_form(
        f"/collections/{collection['id']}/remove", {"paper_id": paper}, page="/library"
    )
    assert r.status_code in (403, 404)


def test_delete_forms_sent_twice_land_where_the_first_did(web_server) -> None:  # noqa: ANN001
    """A double click on "Delete" (a comment, a collection) or a curator's "Remove" (a paper
    from the daily list): the second request asks for what the first did and lands where it
    did (it was a 404 page). The JSON API still answers 404."""
    from paperfeed.store import open_store

    v = Visitor(web_server)
    v.sign_up("delete-twice@example.org")
    paper = "2608.17271"
    r = v.post_form(f"/papers/{paper}/comments", {"body": "sent twice"}, page="/library")
    assert r.status_code == 303
    comment = int(r.headers["location"].rsplit("-", 1)[1])
    for _ in range(2):
        r = v.post_form(f"/papers/{paper}/comments/{comment}/delete", {}, page="/library")
        assert r.status_code == 303, r.text[:300]
        assert r.headers["location"] == f"/papers/{paper}#comments"
    api = v.http.delete(
        f"/api/papers/{paper}/comments/{comment}", headers={"X-CSRF-Token": v.csrf("/library")}
    )
    assert api.status_code == 404

    r = v.post_form("/collections", {"name": "Deleted twice"}, page="/library")
    collection = r.headers["location"].rsplit("/", 1)[1]
    for _ in range(2):
        r = v.post_form(f"/collections/{collection}/delete", {}, page="/library")
        assert r.status_code == 303 and r.headers["location"] == "/library", r.text[:300]
    api = v.http.delete(
        f"/api/collections/{collection}", headers={"X-CSRF-Token": v.csrf("/library")}
    )
    assert api.status_code == 404
    # someone else's public collection is still refused
    owner = Visitor(web_server)
    owner.sign_up("delete-twice-owner@example.org")
    r = owner.post_form("/collections", {"name": "Mine", "public": "true"}, page="/library")
    theirs = r.headers["location"].rsplit("/", 1)[1]
    assert v.post_form(f"/collections/{theirs}/delete", {}, page="/library").status_code == 403

    store = open_store(web_server.settings)
    try:
        store.set_role("delete-twice@example.org", "curator")
    finally:
        store.close()
    listed = get(web_server, "/api/daily_papers", date="2026-08-19", limit=1).json()
    pid = listed[0]["paper"]["id"]
    for _ in range(2):
        r = v.post_form(f"/papers/{pid}/curate", {"action": "remove"}, page="/library")
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{pid}", r.text[:300]
    day = get(web_server, "/api/daily_papers", date="2026-08-19", limit=100).json()
    assert pid not in [d["paper"]["id"] for d in day]
    assert v.post_form(f"/papers/{pid}/curate", {"action": "pin"}, page="/").status_code == 404


def test_every_follow_the_paper_page_offers_is_taken(web_server, tmp_path) -> None:  # noqa: ANN001
    """An author name over the follow limit (200 characters: an affiliation or a whole
    collaboration parsed as one name) is shown but not offered: "Follow" was there and
    answered a 400 page. Every Follow the page does offer is taken."""
    import json

    from paperfeed import library
    from paperfeed.ingest import ingest_sources
    from paperfeed.store import open_store

    long_name = "The Very Large Collaboration " + " ".join(["Member Name"] * 20)
    assert len(long_name) > library.MAX_AUTHOR
    paper = {
        "arxiv_id": "2608.99001",
        "title": "A paper with a very long author name",
        "abstract": "Its second author is a whole collaboration parsed as one name.",
        "authors": ["Ada Lovelace", long_name, "Grace Hopper"],
        "categories": ["cs.LG"],
        "primary_category": "cs.LG",
        "published": "2026-08-20T10:00:00Z",
        "listing_date": "2026-08-20",
    }
    source = tmp_path / "long_author.jsonl"
    source.write_text(json.dumps(paper) + "\n")
    store = open_store(web_server.settings)
    try:
        ingest_sources(store, [str(source)])
    finally:
        store.close()
    v = Visitor(web_server)
    v.sign_up("long-author@example.org")
    page = v.http.get("/papers/2608.99001")
    assert page.status_code == 200 and "The Very Large Collaboration" in page.text
    offered = re.findall(
        r'<form action="/follows" method="post" class="inline">.*?name="kind" value="(\w+)">'
        r'\s*<input type="hidden" name="value" value="([^"]*)">',
        page.text,
        re.S,
    )
    assert [kind for kind, _ in offered] == ["category", "author", "author"], offered
    assert [value for _, value in offered][1:] == ["Ada Lovelace", "Grace Hopper"]
    for kind, value in offered:
        form = {"kind": kind, "value": value, "next": "/papers/2608.99001#library"}
        r = v.post_form("/follows", form, page="/library")
        assert r.status_code == 303, (value, r.text[:300])
