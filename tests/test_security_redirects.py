"""Open redirects: `next=` after sign-in, sign-up and upvotes never leaves the site, including
the tricks browsers normalise (tabs/newlines dropped inside URLs, `\\` read as `/`)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import LiveServer, Visitor, _start_server

PAPER = "2608.17271"
TRICKS = [
    "//evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\\evil.example/",
    "/\\/evil.example/",
    " //evil.example/",
    "https://evil.example/",
    "/%09/evil.example/",  # stays a local path: percent-escapes are not decoded in Location
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web app over SQLite: what is checked here does not depend on the store backend."""
    yield from _start_server(tmp_path_factory.mktemp("redirects") / "data")


def browser_target(base: str, location: str) -> str:
    """Where a browser goes: the WHATWG URL parser drops tab/CR/LF and reads `\\` as `/`."""
    cleaned = location.strip(" \x00").translate({9: None, 10: None, 13: None})
    return urljoin(base + "/", cleaned.replace("\\", "/"))


def assert_stays(server, response) -> None:  # noqa: ANN001
    assert response.status_code == 303, response.text[:300]
    target = browser_target(server.url, response.headers["location"])
    assert urlsplit(target).netloc == urlsplit(server.url).netloc, response.headers["location"]


@pytest.mark.parametrize("trick", TRICKS)
def test_sign_in_next_stays_on_the_site(site, trick: str) -> None:  # noqa: ANN001
    v = Visitor(site)
    try:
        v.sign_up(f"redir{TRICKS.index(trick)}@example.org")
        v.post_form("/signout", {}, page="/")
        r = v.post_form(
            "/signin",
            {
                "email": f"redir{TRICKS.index(trick)}@example.org",
                "password": "correct horse battery",
                "next": trick,
            },
        )
        assert_stays(site, r)
        r = v.post_form(f"/papers/{PAPER}/upvote", {"next": trick}, page="/")
        assert_stays(site, r)
    finally:
        v.close()


def test_sign_up_next_stays_on_the_site(site) -> None:  # noqa: ANN001
    v = Visitor(site)
    try:
        r = v.post_form(
            "/signup",
            {
                "email": "redir-up@example.org",
                "password": "correct horse battery",
                "next": TRICKS[1],
            },
        )
        assert_stays(site, r)
        assert r.headers["location"] == "/"
    finally:
        v.close()


def test_local_next_still_works(site) -> None:  # noqa: ANN001
    v = Visitor(site)
    try:
        v.sign_up("redir-ok@example.org")
        r = v.post_form(f"/papers/{PAPER}/upvote", {"next": "/search?q=a%20b"}, page="/")
        assert r.headers["location"] == "/search?q=a%20b"
    finally:
        v.close()
