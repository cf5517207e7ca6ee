"""Issue 9.2 and 9.3 over HTTP with a real SMTP server: confirmation links are single-use and
never undo a later unsubscribe or settings change; one per-address limit on every path that
sends mail; a cap on saved searches per account."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import LiveServer, SmtpSink, Visitor, mail_link

from paperfeed.digest.send import send_digests
from paperfeed.store import open_store

MAIL_LIMIT_PER_ADDRESS = 3  # emails per address per hour, any path (README)
MAX_SEARCHES = 20  # saved searches per account (README)


@pytest.fixture
def store(server: LiveServer):  # noqa: ANN201
    store = open_store(server.settings)
    yield store
    store.close()


def mails(sink: SmtpSink, address: str, count: int) -> list:
    deadline = time.monotonic() + 10
    while len(sink.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # let any extra (unwanted) message arrive too
    return sink.to(address)


def subscribe(server: LiveServer, address: str, **body: object) -> None:
    # each call from its own loopback address: only the per-address mail limit applies here
    n = sum(map(ord, address)) % 200 + len(body)
    transport = httpx.HTTPTransport(local_address=f"127.0.9.{n + 2}")
    with httpx.Client(base_url=server.url, transport=transport) as client:
        r = client.post("/api/subscriptions", json={"email": address, **body})
    assert r.status_code == 202, r.text


def test_confirmation_link_is_single_use_and_never_undoes_unsubscribe(server, sink, store) -> None:  # noqa: ANN001
    address = "undo@example.org"
    subscribe(server, address, frequency="daily", searches=["graph neural networks"])
    [confirmation] = mails(sink, address, 1)
    confirm_url = mail_link(confirmation, "/subscriptions/confirm")
    page = httpx.get(confirm_url)
    assert page.status_code == 200 and "Subscription confirmed" in page.text
    manage = re.search(r'action="(/subscriptions/manage\?token=[^"]+)"', page.text).group(1)
    manage = manage.replace("&amp;", "&")

    # Opening it a second time (or after a mail scanner did) changes nothing and says so.
    again = httpx.get(confirm_url)
    assert again.status_code == 200 and "Already confirmed" in again.text
    assert "already used" in again.text and "nothing was changed" in again.text

    # Change settings; the old link opened now leaves them as they are.
    r = httpx.post(server.url + manage, data={"action": "save", "frequency": "weekly"})
    assert r.status_code == 200, r.text
    assert httpx.get(confirm_url).status_code == 200
    sub = store.subscriber_by_email(address)
    assert sub.frequency == "weekly" and not sub.trending
    # Unsubscribe.
    r = httpx.post(server.url + manage, data={"action": "unsubscribe"})
    assert r.status_code == 200 and "Unsubscribed" in r.text

    # The original confirmation link (still within its 7 days) must not re-activate it.
    r = httpx.get(confirm_url)
    assert r.status_code == 400 and "already used" in r.text
    sub = store.subscriber_by_email(address)
    assert sub.status == "unsubscribed" and sub.frequency == "weekly" and not sub.trending
    before = len(sink.to(address))
    now = datetime.now(UTC)
    for day in range(3):
        send_digests(server.settings, store, now=now + timedelta(days=day), progress=False)
    assert len(sink.to(address)) == before  # nothing mailed to the unsubscribed address


def test_a_newer_confirmation_replaces_the_older_link(server, sink, store) -> None:  # noqa: ANN001
    address = "twice@example.org"
    subscribe(server, address, frequency="daily")
    subscribe(server, address, frequency="weekly", trending=False)
    first, second = mails(sink, address, 2)
    r = httpx.get(mail_link(first, "/subscriptions/confirm"))
    assert r.status_code == 400 and "newer email replaced it" in r.text
    assert store.subscriber_by_email(address).confirmed_at is None
    r = httpx.get(mail_link(second, "/subscriptions/confirm"))
    assert r.status_code == 200
    sub = store.subscriber_by_email(address)
    assert sub.receives_mail and sub.frequency == "weekly" and not sub.trending


def test_saved_searches_cannot_flood_an_inbox(server, sink, store) -> None:  # noqa: ANN001
    """The reported attack: POST /api/saved-searches 15 times = 15 confirmation emails."""
    victim = "victim@example.org"
    visitor = Visitor(server)
    try:
        visitor.sign_up(victim, sink=sink)
        already = len(sink.to(victim))  # the sign-up email counts against the limit too
        token = visitor.csrf("/")
        answers = []
        for n in range(15):
            r = visitor.http.post(
                "/api/saved-searches",
                json={"query": f"flood query {n}"},
                headers={"X-CSRF-Token": token},
            )
            assert r.status_code == 201, r.text
            answers.append(r.json()["confirmationSent"])
        received = mails(sink, victim, MAIL_LIMIT_PER_ADDRESS)
        assert len(received) == MAIL_LIMIT_PER_ADDRESS
        assert answers.count(True) == MAIL_LIMIT_PER_ADDRESS - already
        # The subscribe box is a mail path too: same limit, same silence (202 all the same).
        subscribe(server, victim)
        assert len(mails(sink, victim, MAIL_LIMIT_PER_ADDRESS + 1)) == MAIL_LIMIT_PER_ADDRESS
        # A throttled confirmation issued no new link: the last one mailed still works.
        r = httpx.get(mail_link(received[-1], "/subscriptions/confirm"))
        assert r.status_code == 200, r.text
    finally:
        visitor.close()


def test_saved_searches_are_capped_per_account(server, sink, store) -> None:  # noqa: ANN001
    visitor = Visitor(server)
    try:
        visitor.sign_up("hoarder@example.org", sink=sink)
        token = visitor.csrf("/")
        for n in range(MAX_SEARCHES):
            r = visitor.http.post(
                "/api/saved-searches",
                json={"query": f"topic {n}"},
                headers={"X-CSRF-Token": token},
            )
            assert r.status_code == 201, r.text
        # saving one it already has is fine; one more is refused with a clear message
        r = visitor.http.post(
            "/api/saved-searches", json={"query": "topic 0"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 201
        r = visitor.http.post(
            "/api/saved-searches", json={"query": "one too many"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 409 and str(MAX_SEARCHES) in r.json()["error"]
        assert len(store.subscriber_by_email("hoarder@example.org").searches) == MAX_SEARCHES
    finally:
        visitor.close()
