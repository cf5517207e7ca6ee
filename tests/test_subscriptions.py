"""Subscriptions over HTTP against a live server, with a real SMTP server receiving the mail."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import LiveServer, SmtpSink, Visitor, mail_link
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from paperfeed.digest.send import send_digests
from paperfeed.store import open_store


@pytest.fixture
def store(server: LiveServer):  # noqa: ANN201
    store = open_store(server.settings)
    yield store
    store.close()


def wait_for(sink: SmtpSink, address: str, count: int = 1) -> list:
    deadline = time.monotonic() + 10
    while len(sink.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return sink.to(address)


def test_confirmation_flow_digest_and_one_click_unsubscribe(server, sink, store) -> None:  # noqa: ANN001
    client = httpx.Client(base_url=server.url)
    r = client.post("/api/subscriptions", json={"email": "Ada@Example.org", "frequency": "daily"})
    assert r.status_code == 202, r.text
    [confirmation] = wait_for(sink, "ada@example.org")
    assert confirmation.message["Subject"] == "Confirm your paperfeed subscription"
    assert confirmation.message["List-Unsubscribe"] is None

    # Nothing is sent before confirmation.
    now = datetime.now(UTC)
    assert send_digests(server.settings, store, now=now, progress=False).sent == 0
    assert len(sink.to("ada@example.org")) == 1

    page = httpx.get(mail_link(confirmation, "/subscriptions/confirm"))
    assert page.status_code == 200 and "Subscription confirmed" in page.text
    report = send_digests(server.settings, store, now=now, progress=False)
    assert report.sent == 1
    digest = sink.to("ada@example.org")[1].message
    assert digest["Subject"].startswith("paperfeed daily digest:")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = digest["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{server.url}/unsubscribe?token=")
    html = digest.get_body(preferencelist=("html",)).get_content()
    assert f"{server.url}/papers/" in html

    # RFC 8058: a POST with that exact body, no cookies, no CSRF token.
    r = httpx.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and "no more digests" in r.text
    assert store.subscriber_by_email("ada@example.org").status == "unsubscribed"
    assert (
        send_digests(server.settings, store, now=now + timedelta(days=1), progress=False).sent == 0
    )
    assert len(sink.to("ada@example.org")) == 2

    # The GET of the same link shows a button and changes nothing (link scanners are safe).
    r = httpx.get(unsubscribe)
    assert r.status_code == 200 and 'value="One-Click"' in r.text


def test_subscribe_box_form_and_bad_input(server, sink, store) -> None:  # noqa: ANN001
    visitor = Visitor(server)
    try:
        r = visitor.post_form(
            "/subscribe", {"email": "grace@example.org", "frequency": "weekly"}, page="/"
        )
        assert r.status_code == 200 and "Check your inbox" in r.text
        [mail] = wait_for(sink, "grace@example.org")
        body = mail.message.get_body(preferencelist=("plain",)).get_content()
        assert "weekly paper digests" in body and "/subscriptions/confirm?token=" in body

        r = visitor.post_form("/subscribe", {"email": "not an address"}, page="/")
        assert r.status_code == 400 and "is not a valid email address" in r.text
        r = visitor.post_form(
            "/subscribe", {"email": "x@example.org\r\nBcc: y@example.org"}, page="/"
        )
        assert r.status_code == 400 and "line breaks" in r.text
        r = visitor.post_form(
            "/subscribe", {"email": "x@example.org", "frequency": "hourly"}, page="/"
        )
        assert r.status_code == 400 and "daily" in r.text
        # The form needs its CSRF token.
        r = visitor.http.post("/subscribe", data={"email": "z@example.org"})
        assert r.status_code == 403
        assert store.subscriber_by_email("z@example.org") is None
        r = httpx.post(f"{server.url}/api/subscriptions", json={"email": "a@b"})
        assert r.status_code == 400 and "valid email address" in r.json()["error"]
    finally:
        visitor.close()


def test_resubscribing_creates_nothing_and_reveals_nothing(server, sink, store) -> None:  # noqa: ANN001
    api = f"{server.url}/api/subscriptions"
    first = httpx.post(api, json={"email": "known@example.org"})
    [confirmation] = wait_for(sink, "known@example.org")
    httpx.get(mail_link(confirmation, "/subscriptions/confirm"))
    before = store.subscriber_counts()
    again = httpx.post(
        api, json={"email": "KNOWN@example.org", "frequency": "weekly", "searches": ["spam"]}
    )
    unknown = httpx.post(api, json={"email": "stranger@example.org"})
    assert first.status_code == again.status_code == unknown.status_code == 202
    assert first.json() == again.json() == unknown.json()
    assert store.subscriber_counts()["active"] == before["active"]
    sub = store.subscriber_by_email("known@example.org")
    assert sub.frequency == "daily" and sub.searches == []  # a stranger changed nothing
    notice = wait_for(sink, "known@example.org", 2)[1]
    assert notice.message["Subject"] == "Your paperfeed subscription"


def _expired(server: LiveServer, sub_id: int, email: str) -> str:
    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 30 * 86400

    serializer = URLSafeTimedSerializer(
        server.settings.resolved_secret(), salt="paperfeed.digest.confirm", signer=Past
    )
    return serializer.dumps({"s": sub_id, "e": email})


def test_tampered_and_expired_links_get_a_clear_page(server, sink, store) -> None:  # noqa: ANN001
    httpx.post(f"{server.url}/api/subscriptions", json={"email": "links@example.org"})
    [mail] = wait_for(sink, "links@example.org")
    good = mail_link(mail, "/subscriptions/confirm")
    token = good.split("token=", 1)[1]
    tampered = good.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    r = httpx.get(tampered)
    assert r.status_code == 400 and "This link is invalid" in r.text and "<html" in r.text
    sub = store.subscriber_by_email("links@example.org")
    r = httpx.get(
        f"{server.url}/subscriptions/confirm", params={"token": _expired(server, sub.id, sub.email)}
    )
    assert r.status_code == 400 and "expired" in r.text
    assert store.subscriber_by_email("links@example.org").confirmed_at is None
    r = httpx.get(f"{server.url}/subscriptions/confirm")
    assert r.status_code == 400 and "token is missing" in r.text
    r = httpx.post(
        f"{server.url}/unsubscribe?token=nonsense", content=b"List-Unsubscribe=One-Click"
    )
    assert r.status_code == 400
    # A confirm token is not a manage token.
    r = httpx.get(f"{server.url}/subscriptions/manage?token={token}")
    assert r.status_code == 400


def test_manage_page_without_password(server, sink, store) -> None:  # noqa: ANN001
    httpx.post(
        f"{server.url}/api/subscriptions",
        json={"email": "manage@example.org", "searches": ["protein folding"]},
    )
    [mail] = wait_for(sink, "manage@example.org")
    page = httpx.get(mail_link(mail, "/subscriptions/confirm"))
    manage = re.search(r'/subscriptions/manage\?token=([^"&]+)', page.text).group(1)
    url = f"{server.url}/subscriptions/manage?token={manage}"
    page = httpx.get(url)
    assert page.status_code == 200 and "manage@example.org" in page.text
    assert "protein folding" in page.text
    r = httpx.post(url, data={"action": "save", "frequency": "weekly"})  # trending unchecked
    assert r.status_code == 200
    r = httpx.post(url, data={"action": "add_search", "query": "graph neural networks"})
    assert "graph neural networks" in r.text
    sub = store.subscriber_by_email("manage@example.org")
    assert (sub.frequency, sub.trending) == ("weekly", False)
    assert [s.query for s in sub.searches] == ["protein folding", "graph neural networks"]
    r = httpx.post(url, data={"action": "remove_search", "search_id": str(sub.searches[0].id)})
    assert r.status_code == 200
    assert [s.query for s in store.subscriber_by_email("manage@example.org").searches] == [
        "graph neural networks"
    ]
    preview = httpx.get(f"{server.url}/digest/preview?token={manage}")
    assert preview.status_code == 200
    # a page of the site (stylesheet, navigation, a way back), the email framed inside it
    assert '<link rel="stylesheet" href="/static/style.css">' in preview.text
    assert 'href="/trending"' in preview.text and "Manage this subscription" in preview.text
    assert 'class="digest-preview"' in preview.text or "would not be sent" in preview.text
    framed = httpx.get(f"{server.url}/digest/preview/email?token={manage}")
    assert framed.status_code == 200 and framed.text.startswith("<!doctype html>")
    assert httpx.get(f"{server.url}/digest/preview/email").status_code == 400
    r = httpx.get(f"{server.url}/digest/preview?email=manage@example.org")
    assert r.status_code == 403  # by address only for admins


def test_saved_search_from_the_search_page(server, sink, store) -> None:  # noqa: ANN001
    visitor = Visitor(server)
    try:
        assert visitor.http.post("/api/saved-searches", json={"query": "x"}).status_code == 401
        visitor.sign_up("searcher@example.org", sink=sink)
        token = visitor.csrf("/")
        r = visitor.http.post(
            "/api/saved-searches",
            json={"query": "diffusion models", "filters": {"has_code": True}},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 201, r.text
        assert r.json()["query"] == "diffusion models" and r.json()["confirmationSent"] is True
        mail = sink.wait_for("searcher@example.org", subject="Confirm")
        sub = store.subscriber_by_email("searcher@example.org")
        assert sub.confirmed_at is None and sub.searches[0].filters == {"has_code": True}
        httpx.get(mail_link(mail, "/subscriptions/confirm"))
        assert store.subscriber_by_email("searcher@example.org").receives_mail
        # The search page's button posts the same endpoint as a form.
        page = visitor.http.get("/search", params={"q": "protein structure", "has_code": "1"})
        assert "Email me new papers for this search" in page.text
        csrf = re.search(
            r'save-search">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page.text
        ).group(1)
        r = visitor.http.post(
            "/api/saved-searches",
            data={"csrf_token": csrf, "q": "protein structure", "has_code": "1"},
        )
        assert r.status_code == 303 and "saved=1" in r.headers["location"]
        assert (
            "new papers for this search will be in your email digest"
            in visitor.http.get(r.headers["location"]).text
        )
        searches = store.subscriber_by_email("searcher@example.org").searches
        assert ("protein structure", {"has_code": True}) in [(s.query, s.filters) for s in searches]
        # Without the CSRF token a cookie session cannot save anything.
        r = visitor.http.post("/api/saved-searches", json={"query": "forged"})
        assert r.status_code == 403
    finally:
        visitor.close()


def test_without_a_mail_server_subscribing_says_so(web_server) -> None:  # noqa: ANN001
    """No PAPERFEED_SMTP_URL: a clear 503, never a false "check your inbox"."""
    configured, web_server.settings.smtp_url = web_server.settings.smtp_url, ""
    visitor = Visitor(web_server)
    try:
        r = visitor.post_form("/subscribe", {"email": "nomail@example.org"}, page="/")
        assert r.status_code == 503 and "PAPERFEED_SMTP_URL" in r.text
        assert "Check your inbox" not in r.text
        r = httpx.post(f"{web_server.url}/api/subscriptions", json={"email": "nomail@example.org"})
        assert r.status_code == 503 and "cannot send email" in r.json()["error"]
    finally:
        web_server.settings.smtp_url = configured
        visitor.close()
