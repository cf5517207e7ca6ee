"""Accounts through the web: sign up/in/out, roles, CSRF, throttling, votes, comments."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.settings import load_settings
from paperfeed.store import open_store
from paperfeed.web.app import create_app

PAPER = "2608.17271"  # one of the fixture papers


def bearer(server, email: str, password: str = "correct horse battery") -> dict[str, str]:  # noqa: ANN001
    r = httpx.post(f"{server.url}/api/session", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_first_account_is_admin_then_users(web_server, visitor) -> None:  # noqa: ANN001
    visitor.sign_up("first@example.org", name="First")
    assert visitor.http.get("/api/whoami").json() == {
        "name": "First",
        "email": "first@example.org",
        "role": "admin",
    }
    other = type(visitor)(web_server)
    other.sign_up("second@example.org")
    assert other.http.get("/api/whoami").json()["role"] == "user"


def test_sign_up_without_mail_answers_alike_for_a_known_address(web_server, visitor) -> None:  # noqa: ANN001
    """Issue 9.7 on an instance without SMTP: a known address gets the answer a new one
    gets (a redirect and a session cookie), the owner keeps the account and the password,
    and the decoy session opens nothing."""
    visitor.sign_up("owner7@example.org", name="Owner")
    known, new = type(visitor)(web_server), type(visitor)(web_server)
    try:
        form = {"password": "attacker pass 1", "next": "/library"}
        a = known.post_form("/signup", {"email": "OWNER7@example.org", **form})
        b = new.post_form("/signup", {"email": "nobody7@example.org", **form})
        assert a.status_code == b.status_code == 303, (a.text, b.text)
        assert a.headers["location"] == b.headers["location"] == "/library"
        assert a.text == b.text
        cookies = [
            sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie")) for r in (a, b)
        ]
        assert cookies[0] == cookies[1] and "pf_session" in cookies[0]
        assert "already" not in a.text
        # what it does: the new address has an account, the known one was left alone
        assert new.http.get("/api/whoami").json()["email"] == "nobody7@example.org"
        assert known.http.get("/api/whoami").status_code == 401  # the decoy opens nothing
        assert known.sign_in("owner7@example.org", "attacker pass 1").status_code == 400
        assert known.sign_in("owner7@example.org").status_code == 303  # the owner's password
        assert known.http.get("/api/whoami").json()["name"] == "Owner"
    finally:
        known.close()
        new.close()


def test_password_is_argon2_hashed(web_server, visitor) -> None:  # noqa: ANN001
    visitor.sign_up("hash@example.org", password="my secret words")
    store = open_store(web_server.settings)
    try:
        user, stored = store.user_credentials("hash@example.org")
    finally:
        store.close()
    assert stored.startswith("$argon2id$")
    assert "my secret words" not in stored


def test_session_cookie_flags_and_sign_out(web_server, visitor) -> None:  # noqa: ANN001
    r = visitor.sign_up("cookie@example.org")
    cookie = r.headers["set-cookie"]
    assert "pf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # secure_cookies is off on plain http
    assert visitor.http.get("/api/whoami").status_code == 200
    out = visitor.post_form("/signout", {}, page="/")
    assert out.status_code == 303
    visitor.http.cookies.delete("pf_session")
    # the old session is gone on the server too
    visitor.http.cookies.set("pf_session", re.search(r"pf_session=([^;]+)", cookie).group(1))
    assert visitor.http.get("/api/whoami").status_code == 401


def sign_up_through_the_form(
    client: TestClient, email: str
) -> tuple[httpx.Response, httpx.Response]:
    """The sign-up page, and the answer to signing up through its form (CSRF token and all)."""
    page = client.get("/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/signup",
        data={"csrf_token": token, "email": email, "password": "long enough"},
        follow_redirects=False,
    )
    return page, answer


def test_secure_cookies_behind_tls(tmp_path) -> None:  # noqa: ANN001
    settings = load_settings(data_dir=tmp_path, secret_key="k" * 32, secure_cookies=True)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        page, r = sign_up_through_the_form(client, "tls@example.org")
        assert "Secure" in page.headers["set-cookie"]
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    ("base_url", "setting", "secure"),
    [
        ("https://papers.example.org", None, True),  # the default follows the base URL
        ("http://papers.example.org", None, False),
        ("https://papers.example.org", False, False),  # an explicit setting wins
    ],
)
def test_cookies_are_secure_when_the_instance_is_https(
    tmp_path, base_url: str, setting: bool | None, secure: bool
) -> None:  # noqa: ANN001
    """An instance served over https marks its session and CSRF cookies Secure without being
    told (PAPERFEED_SECURE_COOKIES was off by default, so they went out over http too)."""
    overrides = {} if setting is None else {"secure_cookies": setting}
    settings = load_settings(data_dir=tmp_path, secret_key="k" * 32, base_url=base_url, **overrides)
    with TestClient(create_app(settings), base_url=base_url) as client:
        page, r = sign_up_through_the_form(client, "https@example.org")
        assert r.status_code == 303
        cookies = page.headers.get_list("set-cookie") + r.headers.get_list("set-cookie")
        names = {c.split("=", 1)[0] for c in cookies}
        assert {"pf_csrf", "pf_session"} <= names, cookies
        for cookie in cookies:
            assert ("; secure" in cookie.lower()) == secure, cookie


def test_wrong_password_then_right(web_server, visitor) -> None:  # noqa: ANN001
    visitor.sign_up("pw@example.org")
    fresh = type(visitor)(web_server)
    bad = fresh.sign_in("pw@example.org", "not the password")
    assert bad.status_code == 400 and "wrong email or password" in bad.text
    assert fresh.sign_in("pw@example.org").status_code == 303
    assert fresh.http.get("/api/whoami").json()["email"] == "pw@example.org"


def test_csrf_required_on_forms_and_cookie_posts(web_server, visitor) -> None:  # noqa: ANN001
    visitor.sign_up("csrf@example.org")
    # a form without a token, or with a token signed for another cookie, is refused
    r = visitor.http.post("/signin", data={"email": "csrf@example.org", "password": "x" * 10})
    assert r.status_code == 403
    stranger = type(visitor)(web_server)
    foreign = stranger.csrf()
    r = visitor.http.post(f"/papers/{PAPER}/upvote", data={"csrf_token": foreign})
    assert r.status_code == 403
    r = visitor.http.post(f"/papers/{PAPER}/upvote", data={"csrf_token": "forged.token"})
    assert r.status_code == 403
    # cookie-authenticated API calls need the header
    r = visitor.http.post(f"/api/papers/{PAPER}/upvote")
    assert r.status_code == 403 and r.json()["status"] == 403
    token = visitor.csrf("/")
    r = visitor.http.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["upvoted"] is True


def test_sign_in_is_throttled(web_server, visitor) -> None:  # noqa: ANN001
    codes = [visitor.sign_in("victim@example.org", f"guess-{i}").status_code for i in range(12)]
    assert codes[0] == 400
    assert codes[-1] == 429
    # the same client through the API: refused too
    r = visitor.http.post("/api/session", json={"email": "victim@example.org", "password": "x"})
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])  # the time left in the window, not the whole window
    assert 0 < wait <= 15 * 60
    assert r.json() == {
        "error": f"too many attempts; try again in {-(-wait // 60)} minutes",
        "status": 429,
    }
    # another client is not locked out by this one (issue 9.6): a wrong password is a 400
    r = httpx.post(
        f"{web_server.url}/api/session", json={"email": "victim@example.org", "password": "x"}
    )
    assert r.status_code == 400


def test_one_upvote_per_user_enforced(web_server, visitor) -> None:  # noqa: ANN001
    before = httpx.get(f"{web_server.url}/api/papers/{PAPER}").json()["upvotes"]
    visitor.sign_up("voter@example.org")
    for _ in range(3):
        r = visitor.post_form(f"/papers/{PAPER}/upvote", {"next": f"/papers/{PAPER}"}, page="/")
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{PAPER}"
    auth = bearer(web_server, "voter@example.org")
    again = httpx.post(f"{web_server.url}/api/papers/{PAPER}/upvote", headers=auth).json()
    assert again == {"upvoted": True, "upvotes": before + 1}
    page = visitor.http.get(f"/papers/{PAPER}").text
    assert 'class="upvote voted"' in page
    # the database refuses a second row for the same user and paper
    store = open_store(web_server.settings)
    try:
        user, _ = store.user_credentials("voter@example.org")
        assert store.add_vote(user_id=user.id, paper_id=PAPER) is False
    finally:
        store.close()
    gone = httpx.delete(f"{web_server.url}/api/papers/{PAPER}/upvote", headers=auth).json()
    assert gone == {"upvoted": False, "upvotes": before}


def test_upvote_needs_sign_in(web_server, visitor) -> None:  # noqa: ANN001
    r = visitor.post_form(f"/papers/{PAPER}/upvote", {}, page="/")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
    assert httpx.post(f"{web_server.url}/api/papers/{PAPER}/upvote").status_code == 401


def test_comments_escaped_counted_and_owned(web_server, visitor) -> None:  # noqa: ANN001
    visitor.sign_up("commenter@example.org")
    before = httpx.get(f"{web_server.url}/api/papers/{PAPER}").json()["numComments"]
    body = '<script>alert("x")</script> nice & clear, see https://example.org/x'
    r = visitor.post_form(f"/papers/{PAPER}/comments", {"body": body}, page=f"/papers/{PAPER}")
    assert r.status_code == 303
    page = visitor.http.get(f"/papers/{PAPER}").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; nice &amp; clear" in page
    assert 'href="https://example.org/x"' in page
    comments = httpx.get(f"{web_server.url}/api/papers/{PAPER}/comments").json()
    mine = [c for c in comments if c["author"]["name"] == "commenter"][-1]
    assert httpx.get(f"{web_server.url}/api/papers/{PAPER}").json()["numComments"] == before + 1
    # someone else may not delete it
    other = type(visitor)(web_server)
    other.sign_up("intruder@example.org")
    delete = f"/papers/{PAPER}/comments/{mine['id']}/delete"
    r = other.post_form(delete, {}, page=f"/papers/{PAPER}")
    assert r.status_code == 403
    r = visitor.post_form(
        f"/papers/{PAPER}/comments/{mine['id']}/delete", {}, page=f"/papers/{PAPER}"
    )
    assert r.status_code == 303
    assert httpx.get(f"{web_server.url}/api/papers/{PAPER}").json()["numComments"] == before


def test_curators_pin_and_remove(web_server, visitor, cli) -> None:  # noqa: ANN001
    visitor.sign_up("plain@example.org")
    r = visitor.post_form(f"/papers/{PAPER}/curate", {"action": "remove"}, page="/")
    assert r.status_code == 403
    store = open_store(web_server.settings)
    try:
        store.set_role("plain@example.org", "curator")
    finally:
        store.close()
    target = httpx.get(f"{web_server.url}/api/daily_papers?date=2026-08-20&limit=1").json()[0]
    pid = target["paper"]["id"]
    r = visitor.post_form(f"/papers/{pid}/curate", {"action": "remove"}, page="/")
    assert r.status_code == 303
    day = httpx.get(f"{web_server.url}/api/daily_papers?date=2026-08-20&limit=100").json()
    assert pid not in [d["paper"]["id"] for d in day]


def test_cli_makes_admin(backend, cli) -> None:  # noqa: ANN001
    import os

    os.environ["PAPERFEED_NEW_PASSWORD"] = "operator password"
    try:
        r = cli("users", "add", "ops@example.org", "--role", "admin")
    finally:
        del os.environ["PAPERFEED_NEW_PASSWORD"]
    assert r.exit_code == 0, r.output
    assert "created admin ops@example.org" in r.output
    listed = cli("users", "list", "--json")
    assert '"role": "admin"' in listed.stdout
    bad = cli("users", "add", "ops@example.org", "--role", "wizard", "--password", "x" * 10)
    assert bad.exit_code != 0 and "role must be one of" in bad.output
    changed = cli("users", "role", "OPS@example.org", "curator")
    assert changed.exit_code == 0 and "ops@example.org is now curator" in changed.stdout
    assert '"role": "curator"' in cli("users", "list", "--json").stdout
    wizard = cli("users", "role", "ops@example.org", "wizard")
    assert wizard.exit_code == 2 and "role must be one of" in wizard.stderr
    nobody = cli("users", "role", "nobody@example.org", "admin")
    assert nobody.exit_code == 1 and "no account for nobody@example.org" in nobody.stderr


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "<x>@y.org"])
def test_sign_up_rejects_bad_email(web_server, email) -> None:  # noqa: ANN001
    from conftest import Visitor

    v = Visitor(web_server)
    r = v.post_form("/signup", {"email": email, "password": "long enough pw"})
    assert r.status_code == 400 and "valid email" in r.text


def test_forms_take_the_versioned_ids_pages_take(web_server, visitor) -> None:  # noqa: ANN001
    """`/papers/2608.17271v2` shows the paper; its upvote, comment and curate forms posted to
    that same versioned (or arXiv:-prefixed) id answered 404 "no paper"."""
    visitor.sign_up("versioned-forms@example.org", name="versioned")
    store = open_store(web_server.settings)
    try:
        store.set_role("versioned-forms@example.org", "curator")
    finally:
        store.close()
    api = f"{web_server.url}/api/papers/{PAPER}"
    before = httpx.get(api).json()
    for paper_id in (f"{PAPER}v2", f"arXiv:{PAPER}"):
        assert visitor.http.get(f"/papers/{paper_id}").status_code == 200
        r = visitor.post_form(f"/papers/{paper_id}/upvote", {"action": "add"}, page="/")
        assert r.status_code == 303, r.text[:300]
        assert httpx.get(api).json()["upvotes"] == before["upvotes"] + 1
        r = visitor.post_form(f"/papers/{paper_id}/upvote", {"action": "remove"}, page="/")
        assert r.status_code == 303 and httpx.get(api).json()["upvotes"] == before["upvotes"]
    r = visitor.post_form(f"/papers/{PAPER}v1/comments", {"body": "On v1."}, page="/")
    assert r.status_code == 303, r.text[:300]
    assert httpx.get(api).json()["numComments"] == before["numComments"] + 1
    r = visitor.post_form(f"/papers/arXiv:{PAPER}/curate", {"action": "pin"}, page="/")
    assert r.status_code == 303, r.text[:300]
    r = visitor.post_form("/papers/2608.99999v1/upvote", {"action": "add"}, page="/")
    assert r.status_code == 404
