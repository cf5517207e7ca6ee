"""Rows that only grow are purged (issue 9, same-kind hole): unconfirmed anonymous
subscriptions once their confirmation link is dead, expired sessions and pending sign-ups,
throttle counters whose window is long over. Store contract on every backend, and the runs
that do it: `paperfeed digest send` (cron, and the built-in daily schedule) and app start-up."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from paperfeed.housekeeping import purge
from paperfeed.models import PendingSignup
from paperfeed.settings import load_settings
from paperfeed.store import open_store
from paperfeed.web.app import create_app

DAY = timedelta(days=1)


def _user(store, email: str):  # noqa: ANN001, ANN202
    return store.create_user(email=email, name=email.split("@")[0], password_hash="x")


def test_purge_removes_only_what_can_no_longer_be_used(fresh_store) -> None:  # noqa: ANN001
    store, now = fresh_store, datetime.now(UTC)
    owner = _user(store, "owner@example.org")
    anonymous, _ = store.add_subscriber(email="never-confirmed@example.org")
    confirmed, _ = store.add_subscriber(email="confirmed@example.org", confirmed_at=now)
    accounts_own, _ = store.add_subscriber(email="owner@example.org", user_id=owner.id)
    bounced, _ = store.add_subscriber(email="bounced@example.org")
    store.update_subscriber(bounced.id, status="bounced", status_reason="550")
    left, _ = store.add_subscriber(email="left@example.org", confirmed_at=now)
    store.update_subscriber(left.id, status="unsubscribed", status_reason="one-click")
    store.create_session(token_hash="old", user_id=owner.id, expires_at=now + DAY)
    store.create_session(token_hash="live", user_id=owner.id, expires_at=now + 30 * DAY)
    pending = PendingSignup(
        email="p@example.org", name="p", password_hash="x", next_path="/", expires_at=now + DAY
    )
    store.add_pending_signup(token_hash="pending", signup=pending)
    assert store.throttle_hit("comment:user:1", limit=5, window_s=900, now=now.timestamp())

    # a day later nothing is old enough yet
    assert purge(store, now=now + DAY / 2).total == 0
    report = purge(store, now=now + 8 * DAY)
    assert (
        report.unconfirmed_subscribers,
        report.sessions,
        report.pending_signups,
        report.throttle_rows,
    ) == (1, 1, 1, 1)
    assert store.get_subscriber(anonymous.id) is None
    for kept in (confirmed, accounts_own, bounced, left):  # bounced stays: never mail it again
        assert store.get_subscriber(kept.id) is not None
    assert store.session_user("live") is not None and store.session_user("old") is None
    assert store.take_pending_signup("pending") is None
    assert purge(store, now=now + 8 * DAY).total == 0  # idempotent


def test_digest_send_and_app_start_purge(cli, data_dir, smtp_sink, monkeypatch) -> None:  # noqa: ANN001
    settings = load_settings(data_dir=data_dir, secret_key="test-secret-key-for-web-tests")
    past = datetime.now(UTC) - DAY

    def plant() -> None:
        store = open_store(settings)
        try:
            user = store.get_user(1) or _user(store, "u@example.org")
            store.create_session(
                token_hash=f"expired{time.time()}", user_id=user.id, expires_at=past
            )
            assert store.throttle_hit("old", limit=5, window_s=900, now=time.time() - 3 * 86400)
        finally:
            store.close()

    def counts() -> tuple[int, int]:
        store = open_store(settings)
        try:
            report = purge(store, now=datetime.now(UTC))  # what is left to purge
            return report.sessions, report.throttle_rows
        finally:
            store.close()

    plant()
    monkeypatch.setenv("PAPERFEED_SMTP_URL", smtp_sink.url)
    r = cli("digest", "send")
    assert r.exit_code == 0, r.output
    assert "purged 0 unconfirmed subscriptions, 1 expired sessions" in r.output
    plant()
    with TestClient(create_app(settings)):
        pass  # start-up purges
    assert counts() == (0, 0)
