"""Issue 9.5 and 9.6 over HTTP: CSRF tokens are bound to the session and rotated at sign-in;
sign-in throttling is per (address, client) with a softer per-address backstop, and refused
attempts neither count nor add rows."""

from __future__ import annotations

import sqlite3

import httpx
from conftest import LiveServer, Visitor

from paperfeed.store import open_store

PAPER = "2608.17271"  # one of the fixture papers
PASSWORD = "correct horse battery"


def upvote(visitor: Visitor, token: str) -> int:
    r = visitor.http.post(f"/papers/{PAPER}/upvote", data={"csrf_token": token})
    return r.status_code


def test_csrf_token_rotates_at_sign_in(web_server) -> None:  # noqa: ANN001
    v = Visitor(web_server)
    try:
        v.sign_up("rotate@example.org")
        during_first_session = v.csrf("/")
        assert v.post_form("/signout", {}, page="/").status_code == 303
        anonymous = v.csrf("/signin")
        assert v.sign_in("rotate@example.org").status_code == 303
        # Tokens from before this sign-in (anonymous, or another session) are void now.
        assert upvote(v, anonymous) == 403
        assert upvote(v, during_first_session) == 403
        # The token of a page of this session works.
        assert upvote(v, v.csrf("/")) == 303
    finally:
        v.close()


def test_csrf_cookie_is_replaced_at_sign_in(web_server) -> None:  # noqa: ANN001
    v = Visitor(web_server)
    try:
        v.sign_up("cookie-rotate@example.org")
        v.post_form("/signout", {}, page="/")
        v.csrf("/signin")
        before = v.http.cookies.get("pf_csrf")
        r = v.sign_in("cookie-rotate@example.org")
        assert r.status_code == 303
        assert "pf_csrf=" in r.headers.get("set-cookie", "")
        assert v.http.cookies.get("pf_csrf") not in (None, before)
    finally:
        v.close()


def test_csrf_token_is_bound_to_the_session(web_server) -> None:  # noqa: ANN001
    """Cookie tossing: an attacker plants their own pf_csrf cookie and uses their own valid
    token in the victim's browser. The token must not fit the victim's session."""
    victim, attacker = Visitor(web_server), Visitor(web_server)
    try:
        victim.sign_up("bound-victim@example.org")
        attacker.sign_up("bound-attacker@example.org")
        attacker_token = attacker.csrf("/")
        attacker_cookie = attacker.http.cookies.get("pf_csrf")
        assert upvote(attacker, attacker_token) == 303  # valid for its own session
        victim_session = victim.http.cookies.get("pf_session")
        r = httpx.post(
            f"{web_server.url}/papers/{PAPER}/upvote",
            data={"csrf_token": attacker_token},
            headers={"Cookie": f"pf_session={victim_session}; pf_csrf={attacker_cookie}"},
        )
        assert r.status_code == 403
        # and an anonymous token + cookie pair planted before the victim's session
        anonymous = Visitor(web_server)
        token = anonymous.csrf("/")
        cookie = anonymous.http.cookies.get("pf_csrf")
        anonymous.close()
        r = httpx.post(
            f"{web_server.url}/papers/{PAPER}/upvote",
            data={"csrf_token": token},
            headers={"Cookie": f"pf_session={victim_session}; pf_csrf={cookie}"},
        )
        assert r.status_code == 403
    finally:
        victim.close()
        attacker.close()


def _query(server: LiveServer, sql: str, *params: object) -> list[tuple]:
    """Read the store's own tables (SQLite file or PostgreSQL database) to check rows."""
    url = server.settings.database_url
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    with sqlite3.connect(server.data_dir / "paperfeed.sqlite3") as conn:
        return conn.execute(sql.replace("%s", "?"), params).fetchall()


def _throttle_rows(server: LiveServer, like: str) -> list[tuple]:
    return _query(server, "SELECT key, hits FROM throttle WHERE key LIKE %s ORDER BY key", like)


def test_guessing_from_one_client_does_not_lock_the_owner_out(web_server) -> None:  # noqa: ANN001
    owner, guesser = Visitor(web_server), Visitor(web_server)
    try:
        owner.sign_up("owner@example.org")
        owner.post_form("/signout", {}, page="/")
        codes = [guesser.sign_in("owner@example.org", f"guess-{i}").status_code for i in range(15)]
        assert codes[:10] == [400] * 10 and codes[10:] == [429] * 5
        # The owner, from another client, with the right password: signed in.
        assert owner.sign_in("owner@example.org").status_code == 303
        # Refused attempts were not counted: the guesser's pair stands at 10, not 15.
        [(_, hits)] = _throttle_rows(web_server, f"signin:pair:{guesser.address}|owner@%")
        assert hits == 10
    finally:
        owner.close()
        guesser.close()


def test_refused_requests_add_no_rows(web_server) -> None:  # noqa: ANN001
    """One client spraying many addresses: once it is over its limit, nothing more is stored."""
    sprayer = Visitor(web_server)
    try:
        codes = [
            sprayer.sign_in(f"spray{i}@example.org", "wrong password").status_code
            for i in range(45)
        ]
        assert 400 in codes and codes[-1] == 429
        allowed = codes.count(400)
        rows = _throttle_rows(web_server, "signin:email:spray%")
        assert len(rows) == allowed  # one per address actually tried, none for refused ones
        assert len(_throttle_rows(web_server, f"signin:pair:{sprayer.address}|%")) == allowed
    finally:
        sprayer.close()


def test_throttle_rows_are_bounded(web_server) -> None:  # noqa: ANN001
    """However many distinct keys arrive (many clients, many addresses), rows stay capped."""
    store = open_store(web_server.settings)
    try:
        # the store's bound, here lowered to what a test can reach
        for i in range(200):
            store.throttle_take([(f"test:cap:{i}", 5)], window_s=60, now=2e9 + i, max_rows=50)
        [(count,)] = _query(web_server, "SELECT count(*) FROM throttle")
        [(newest,)] = _query(
            web_server, "SELECT count(*) FROM throttle WHERE key = %s", "test:cap:199"
        )
        assert count <= 50 and newest == 1
    finally:
        store.close()
