"""Bad input is a clear 4xx on every interface, never a 500 (issue 9, item 8)."""

from __future__ import annotations

import httpx
import pytest
from conftest import LiveServer, Visitor


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/search.xml?q=a%00b",
        "/feeds/search.atom?q=%EF%BF%BF",
        "/feeds/search?q=x%01y",
        "/api/papers/search?q=%00",
        "/search?q=bad%00query",
        "/feeds/search.xml?q=ok&category=cs%00",
    ],
)
def test_control_characters_in_queries_are_a_400(web_server: LiveServer, path: str) -> None:
    r = httpx.get(web_server.url + path)
    assert r.status_code == 400, r.text[:300]
    assert "U+" in r.text and "not allowed" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/?view=week&date=9999-12-31",
        "/?view=month&date=9999-12-31",
        "/?date=9999-12-31",
        "/?date=0001-01-01",
        "/api/daily_papers?week=9999-W52",
        "/api/daily_papers?date=9999-12-31",
        "/api/daily_papers?month=9999-12&sort=trending",
        "/feeds/daily.xml?date=9999-12-31",
        "/search?q=attention&since=9999-12-31",
        "/search?q=attention&until=0001-01-01",
    ],
)
def test_dates_out_of_range_are_a_400(web_server: LiveServer, path: str) -> None:
    r = httpx.get(web_server.url + path)
    assert r.status_code == 400, r.text[:300]
    assert "out of range" in r.text


def test_the_last_supported_week_still_answers(web_server: LiveServer) -> None:
    for path in ("/?view=week&date=9998-12-31", "/api/daily_papers?week=9998-W52"):
        assert httpx.get(web_server.url + path).status_code == 200, path


def test_api_errors_say_what_is_wrong_as_json(web_server: LiveServer) -> None:
    r = httpx.get(web_server.url + "/api/daily_papers?week=9999-W52")
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {
        "error": "week 9999-12-27 is out of range: use a day between 1900-01-01 and 9998-12-31",
        "status": 400,
    }


@pytest.fixture(scope="module")
def token(web_server: LiveServer) -> str:
    visitor = Visitor(web_server)
    try:
        visitor.sign_up("saver@example.org")
        r = visitor.http.post(
            "/api/session",
            json={"email": "saver@example.org", "password": "correct horse battery"},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])
    finally:
        visitor.close()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{bad", "not JSON"),
        (b"[]", "JSON object"),
        (b"null", "JSON object"),
        (b'"query"', "JSON object"),
        (b'{"query":""}', "query"),
        (b'{"query":"x","filters":[]}', "filters"),
        (b'{"query":"x","filters":{"color":"red"}}', "unsupported saved-search filter"),
        (b'{"query":"a\\u0000b"}', "not allowed"),
    ],
)
def test_bad_saved_search_bodies_are_a_400(
    web_server: LiveServer, token: str, body: bytes, says: str
) -> None:
    r = httpx.post(
        web_server.url + "/api/saved-searches",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400
    assert says in r.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        # ids past SQLite's 64-bit integers used to reach the store and answer 500
        ("DELETE", "/api/papers/2608.17253/comments/99999999999999999999999", None),
        ("POST", "/papers/2608.17253/comments/99999999999999999999999/delete", None),
        # a NUL was stored on SQLite and a 400 on PostgreSQL: now a 400 on both
        ("POST", "/api/papers/2608.17253/comments", {"content": "a\x00b"}),
        ("POST", "/api/papers/2608.17253/comments", {"content": "\x1b]8;;https://x\x07hi"}),
    ],
)
def test_odd_ids_and_comment_text_are_a_400(
    web_server: LiveServer, token: str, method: str, path: str, body: object
) -> None:
    r = httpx.request(
        method, web_server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 400, r.text[:300]
