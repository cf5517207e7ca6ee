"""Comments, upvotes and submissions are throttled per account and per client (issue 9,
same-kind hole: they had no limit), answering 429 with `Retry-After`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WEB_FIXTURE
from fastapi.testclient import TestClient

from paperfeed import accounts
from paperfeed.ingest import ingest_sources
from paperfeed.settings import load_settings
from paperfeed.store import open_store
from paperfeed.web.app import create_app

PAPER = "2608.17253"  # on the fixture's daily list
PASSWORD = "correct horse battery"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key-for-web-tests")
    store = open_store(settings)
    try:
        ingest_sources(store, [str(WEB_FIXTURE)])
        for n in range(5):
            accounts.add_user(store, email=f"u{n}@example.org", password=PASSWORD, role="user")
    finally:
        store.close()
    with TestClient(create_app(settings)) as test_client:  # every request from one client
        yield test_client


def _token(client: TestClient, n: int) -> dict[str, str]:
    r = client.post("/api/session", json={"email": f"u{n}@example.org", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _comment(client: TestClient, auth: dict[str, str], i: int) -> int:
    r = client.post(f"/api/papers/{PAPER}/comments", json={"content": f"c{i}"}, headers=auth)
    return r.status_code


def _refused(r: object) -> None:
    assert r.status_code == 429, r.text  # type: ignore[attr-defined]
    # the time left in the window that was just opened: at most the window, and within the
    # few seconds this test has run
    wait = int(r.headers["Retry-After"])  # type: ignore[attr-defined]
    assert accounts.THROTTLE_WINDOW_S - 120 <= wait <= accounts.THROTTLE_WINDOW_S
    body = r.json()  # type: ignore[attr-defined]
    minutes = -(-wait // 60)
    assert body["status"] == 429 and f"try again in {minutes} minutes" in body["error"]


def test_comments_are_limited_per_account_then_per_client(client: TestClient) -> None:
    per_user, per_client = accounts.ACTION_LIMITS["comment"]
    tokens = [_token(client, n) for n in range(5)]
    assert [_comment(client, tokens[0], i) for i in range(per_user)] == [201] * per_user
    _refused(client.post(f"/api/papers/{PAPER}/comments", json={"content": "x"}, headers=tokens[0]))
    # the account's other actions are not held back
    assert client.post(f"/api/papers/{PAPER}/upvote", headers=tokens[0]).status_code == 200
    # other accounts from the same client, up to the per-client limit
    done = per_user
    n = 1
    while done < per_client:
        assert _comment(client, tokens[n], done) == 201
        done += 1
        if done % per_user == 0:
            n += 1
    assert _comment(client, tokens[4], 0) == 429  # a fresh account, but the client is spent
    listed = client.get(f"/api/papers/{PAPER}/comments").json()
    assert len(listed) == per_client  # refused comments stored nothing


def test_upvotes_and_submissions_are_limited(client: TestClient) -> None:
    auth = _token(client, 0)
    per_user, _ = accounts.ACTION_LIMITS["upvote"]
    for i in range(per_user):  # adding and taking back both count
        method = client.post if i % 2 == 0 else client.delete
        assert method(f"/api/papers/{PAPER}/upvote", headers=auth).status_code == 200, i
    _refused(client.post(f"/api/papers/{PAPER}/upvote", headers=auth))
    assert client.get(f"/api/papers/{PAPER}").json()["upvotes"] >= 0

    per_user, _ = accounts.ACTION_LIMITS["submit"]
    for _ in range(per_user):  # already listed: 409, still an attempt
        r = client.post("/api/papers/index", json={"arxivId": PAPER}, headers=auth)
        assert r.status_code == 409, r.text
    _refused(client.post("/api/papers/index", json={"arxivId": PAPER}, headers=auth))
