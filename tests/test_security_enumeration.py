"""Answers that must not tell whether an address is known (issue 9.7 and its kin).

Sign-up without mail is in `test_accounts.py`, with mail in `test_security_signup.py`; here
the subscribe box on an instance without mail: a bounced address used to get `202` while
every other address got `503`, and each refused request left an unconfirmed row behind.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from paperfeed.settings import load_settings
from paperfeed.store import open_store
from paperfeed.web.app import create_app


def test_subscribe_without_mail_answers_alike_and_stores_nothing(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key-for-web-tests")
    store = open_store(settings)
    try:
        sub, _ = store.add_subscriber(email="bounced@example.org")
        store.update_subscriber(sub.id, status="bounced", status_reason="550 no such user")
    finally:
        store.close()
    with TestClient(create_app(settings)) as client:
        answers = [
            client.post("/api/subscriptions", json={"email": email})
            for email in ("bounced@example.org", "fresh@example.org")
        ]
    assert [r.status_code for r in answers] == [503, 503]
    assert answers[0].json() == answers[1].json()
    store = open_store(settings)
    try:
        assert store.subscriber_by_email("fresh@example.org") is None  # nothing stored
    finally:
        store.close()
