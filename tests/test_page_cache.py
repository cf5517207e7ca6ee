"""The anonymous page cache (web/pagecache.py) through HTTP: pages are kept for visitors
without a session only, re-rendered after any change, and every visitor gets their own
CSRF token."""

from __future__ import annotations

import re
import threading

import httpx
from conftest import Visitor
from fastapi.testclient import TestClient

from paperfeed.settings import load_settings
from paperfeed.web.app import create_app

PAPER = "/papers/2608.17253"


def anon(server, path: str, **params) -> httpx.Response:  # noqa: ANN001
    """A first-time visitor: no cookies at all."""
    return httpx.get(server.url + path, params=params, timeout=30)


def token_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def upvotes_on(html: str) -> int:
    m = re.search(r'<span class="count">(\d+)</span>', html)
    assert m, "no upvote count"
    return int(m.group(1))


def cached_twice(server, path: str, **params) -> httpx.Response:  # noqa: ANN001
    """GET until the page comes from the cache (rendered once, then kept). On PostgreSQL the
    data version moves with any write transaction on the whole server, and other developers'
    tests share this one: there the page may be rendered afresh every time."""
    for _ in range(4):
        anon(server, path, **params)
        r = anon(server, path, **params)
        if r.headers.get("x-page-cache") == "hit":
            return r
    assert server.settings.database_url, (path, r.status_code, r.headers)  # SQLite: must hit
    return r


def test_public_pages_are_kept_for_anonymous_visitors(web_server) -> None:  # noqa: ANN001
    for path, params in [("/", {}), ("/", {"date": "2026-08-20"}), (PAPER, {}), ("/trending", {})]:
        first = anon(web_server, path, **params)
        assert first.status_code == 200
        hit = cached_twice(web_server, path, **params)
        # the same page apart from the visitor's own CSRF token
        assert re.sub(r'value="[^"]{40,}"', "", hit.text) == re.sub(
            r'value="[^"]{40,}"', "", first.text
        )
        assert hit.headers["content-security-policy"].startswith("default-src 'self'")
        assert int(hit.headers["content-length"]) == len(hit.content)
    r = cached_twice(web_server, "/search", q="diffusion")
    assert 'class="card"' in r.text


def test_every_visitor_gets_a_token_of_their_own_that_works(web_server, backend) -> None:  # noqa: ANN001
    # (on PostgreSQL another test's write may intervene: there a fresh render is allowed)
    served = {"hit"} if backend == "sqlite" else {"hit", "miss"}
    cached_twice(web_server, "/")
    a, b = Visitor(web_server), Visitor(web_server)
    try:
        page_a, page_b = a.http.get("/"), b.http.get("/")
        assert {page_a.headers["x-page-cache"], page_b.headers["x-page-cache"]} <= served
        assert "pf_csrf" in a.http.cookies and "pf_csrf" in b.http.cookies
        token_a, token_b = token_of(page_a.text), token_of(page_b.text)
        assert token_a != token_b
        assert "pf-csrf-" not in page_a.text  # the placeholder never leaves the server
        # a returning visitor keeps their cookie: no new one on a cached page
        again = b.http.get("/")
        assert again.headers["x-page-cache"] in served and "set-cookie" not in again.headers
        assert token_of(again.text) == token_b
        # a visitor's token does not work with another's cookie
        r = b.http.post("/signup", data={"csrf_token": token_a, "email": "x@example.org"})
        assert r.status_code == 403
        # ... and works with their own: sign up from the cached home page's token
        r = a.http.post(
            "/signup",
            data={"csrf_token": token_a, "email": "own@example.org", "password": "pw-long-enough"},
        )
        assert r.status_code == 303, r.text[:300]
        # the sign-up was a commit: the next page is rendered afresh
        assert b.http.get("/").headers["x-page-cache"] == "miss"
    finally:
        a.close()
        b.close()


def test_signed_in_readers_are_never_served_or_stored(web_server) -> None:  # noqa: ANN001
    cached_twice(web_server, PAPER)
    v = Visitor(web_server)
    try:
        v.sign_up("reader-cache@example.org", name="cachereader")
        for _ in range(2):
            r = v.http.get(PAPER)
            assert "x-page-cache" not in r.headers
            assert "cachereader" in r.text and "Sign out" in r.text
        bearer = httpx.get(web_server.url + "/", headers={"Authorization": "Bearer nope"})
        assert "x-page-cache" not in bearer.headers
    finally:
        v.close()
    assert "cachereader" not in anon(web_server, PAPER).text


def test_a_vote_or_comment_shows_on_the_next_anonymous_request(web_server) -> None:  # noqa: ANN001
    before = cached_twice(web_server, PAPER)
    count = upvotes_on(before.text)
    v = Visitor(web_server)
    try:
        v.sign_up("voter-cache@example.org", name="cachevoter")
        r = v.post_form(f"{PAPER}/upvote", {"action": "add"}, page=PAPER)
        assert r.status_code == 303
        after = anon(web_server, PAPER)
        assert after.headers["x-page-cache"] == "miss"
        assert upvotes_on(after.text) == count + 1
        r = v.post_form(f"{PAPER}/comments", {"body": "fresh comment 7f3a"}, page=PAPER)
        assert r.status_code == 303
        assert "fresh comment 7f3a" in anon(web_server, PAPER).text
    finally:
        v.close()


def test_a_write_by_another_process_invalidates(web_server) -> None:  # noqa: ANN001
    """Another app process (here: another store on the same database) pins a paper."""
    from paperfeed.store import open_store

    cached_twice(web_server, "/", date="2026-08-20")
    store = open_store(web_server.settings)
    try:
        (item,) = [i for i in store.daily_list(start=_day(), end=_day(), limit=50)][-1:]
        assert store.pin_daily(item.paper.id, True)
        page = anon(web_server, "/", date="2026-08-20")
        assert page.headers["x-page-cache"] == "miss"
        first = re.search(r'data-paper="([^"]+)"', page.text)
        assert first and first.group(1) == item.paper.id  # pinned papers come first
        assert store.pin_daily(item.paper.id, False)
    finally:
        store.close()


def _day():  # noqa: ANN202
    from datetime import date

    return date(2026, 8, 20)


def test_error_pages_and_other_routes_pass_through(web_server) -> None:  # noqa: ANN001
    r = anon(web_server, "/papers/2799.00000")
    assert r.status_code == 404 and "x-page-cache" not in r.headers
    assert "pf-csrf-" not in r.text and token_of(r.text)
    assert "x-page-cache" not in anon(web_server, "/signin").headers
    assert "x-page-cache" not in anon(web_server, "/api/papers", limit=1).headers


def test_closed_apps_leave_no_version_thread_behind(tmp_path) -> None:  # noqa: ANN001
    """The data version is read on a worker thread: it goes away with the app's event loop
    (it used to be a thread per app that lived as long as the process)."""
    settings = load_settings(data_dir=tmp_path, secret_key="k" * 32)
    before = {t.ident for t in threading.enumerate()}
    for _ in range(3):
        with TestClient(create_app(settings)) as client:
            assert client.get("/").status_code == 200
            r = client.get("/")
            assert r.headers.get("x-page-cache") == "hit"  # the version was read on a thread
    # (AnyIO's own worker threads, which ran the sync routes, end by themselves after 10 s
    # idle: not ours to wait for)
    left = [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and t.is_alive() and t.name != "AnyIO worker thread"
    ]
    assert not left, left
