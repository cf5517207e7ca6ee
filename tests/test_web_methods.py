"""HTTP methods on the pages: HEAD works wherever GET does (uptime monitors, `curl -I`, link
checkers), and a 405 says which methods the resource takes (RFC 9110 15.5.6)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import LiveServer, _start_server

PAPER = "2608.17271"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web app over SQLite: HTTP method handling does not depend on the store backend."""
    yield from _start_server(tmp_path_factory.mktemp("methods") / "data")


def raw_head(server: LiveServer, path: str) -> bytes:
    """Everything the server sends for `HEAD path` on a connection it then closes."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(
            f"HEAD {path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/trending",
        "/search?q=transformer",
        f"/papers/{PAPER}",
        f"/papers/{PAPER}.md",
        f"/papers/{PAPER}/thumbnail.svg",
        "/signin",
        "/healthz",
        "/favicon.ico",
        "/feeds/daily.xml",
        "/api/daily_papers",
        "/static/style.css",
    ],
)
def test_head_answers_like_get_without_a_body(site: LiveServer, path: str) -> None:
    get = httpx.get(site.url + path, timeout=30)
    head = httpx.head(site.url + path, timeout=30)
    assert get.status_code == 200, path
    assert head.status_code == 200, (path, head.status_code)
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers.get("content-security-policy") == get.headers.get("content-security-policy")
    if "set-cookie" not in get.headers:  # a page with a fresh CSRF token differs in length
        assert head.headers["content-length"] == get.headers["content-length"], path
    raw = raw_head(site, path)
    head_part, _, body = raw.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 200") and body == b"", (path, raw[:300])


def test_head_of_a_missing_page_is_a_404(site: LiveServer) -> None:
    r = httpx.head(site.url + "/papers/9999.99999", timeout=30)
    assert r.status_code == 404 and r.content == b""


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/trending", {"GET", "HEAD"}),
        ("PUT", "/", {"GET", "HEAD"}),
        ("DELETE", "/healthz", {"GET", "HEAD"}),
        ("GET", "/signout", {"POST"}),
        # a path several routes share: every one's methods (it named the first route's only)
        ("PUT", "/signin", {"GET", "HEAD", "POST"}),
        ("PUT", "/signup", {"GET", "HEAD", "POST"}),
        ("PUT", "/api/session", {"POST", "DELETE"}),
        ("PUT", "/api/follows", {"GET", "HEAD", "POST", "DELETE"}),
        ("PATCH", f"/api/papers/{PAPER}/note", {"GET", "HEAD", "PUT", "DELETE"}),
        ("PUT", "/static/style.css", {"GET", "HEAD"}),
    ],
)
def test_method_not_allowed_names_the_allowed_methods(
    site: LiveServer, method: str, path: str, allowed: set[str]
) -> None:
    r = httpx.request(method, site.url + path, timeout=30)
    assert r.status_code == 405, (method, path)
    assert set(r.headers.get("allow", "").split(", ")) == allowed, r.headers
    if not path.startswith(("/api/", "/static/")):
        assert r.headers["content-type"].startswith("text/html")  # the site's error page
    for other in allowed - {"HEAD"}:  # each method named is taken (no 405)
        assert httpx.request(other, site.url + path, timeout=30).status_code != 405, other
