"""`paperfeed migrate --to postgresql://...`: a populated SQLite instance copied, verified,
rerunnable after a kill, never two at once; then the API answers the same on both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from conftest import Visitor, _start_server
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.settings import load_settings
from paperfeed.store import open_store

PAPER = "2608.17271"
SECRET = "test-secret-key-for-web-tests"  # what _start_server signs with
ENDPOINTS = [
    "/api/daily_papers",
    "/api/daily_papers?date=2026-08-20&limit=100",
    "/api/trending",
    f"/api/papers/{PAPER}",
    f"/api/papers/{PAPER}/comments",
    "/api/papers?limit=100",
    "/api/papers/search?q=upper+bound&limit=5",
]


def migrate(data: Path, url: str, *extra: str):  # noqa: ANN201
    return CliRunner().invoke(app, ["--data-dir", str(data), "migrate", "--to", url, *extra])


def populate(server) -> None:  # noqa: ANN001
    reader = Visitor(server)
    reader.sign_up("reader@example.org")
    token = httpx.post(
        server.url + "/api/session",
        json={"email": "reader@example.org", "password": "correct horse battery"},
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{server.url}/api/papers/{PAPER}/upvote", headers=auth).status_code == 200
    r = httpx.post(
        f"{server.url}/api/papers/{PAPER}/comments", headers=auth, json={"content": "Copied?"}
    )
    assert r.status_code == 201
    store = open_store(server.settings)
    try:
        sub, _ = store.add_subscriber(email="digest@example.org", confirmed_at=datetime.now(UTC))
        store.add_saved_search(subscriber_id=sub.id, query="diffusion", filters={"has_code": True})
        assert store.begin_send(
            subscriber_id=sub.id, period="d:2026-11-30", message_id="<m@x>",
            paper_ids=[PAPER], at=datetime.now(UTC),
        )  # fmt: skip
        store.finish_sends([(sub.id, "d:2026-11-30")])
        store.add_source("arxiv:cs.CL")
        store.save_checkpoint("oai:cs", {"from": "2026-08-20"})
    finally:
        store.close()


def answers(server) -> dict[str, object]:  # noqa: ANN001
    replies = {path: httpx.get(server.url + path, timeout=30) for path in ENDPOINTS}
    assert all(r.status_code == 200 for r in replies.values()), replies
    got = {path: r.json() for path, r in replies.items()}
    for item in got["/api/trending"]:  # scores decay with the clock between the two reads
        item.pop("trendingScore")
        item.pop("trendingExplanation")
    return got


def test_migrate_copies_verifies_and_the_api_answers_the_same(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "sqlite"
    for server in _start_server(data):
        populate(server)
        before = answers(server)
    r = migrate(data, pg_url)
    assert r.exit_code == 0, r.output
    assert "copied and verified" in r.stdout
    for table in ("papers", "daily_entries", "users", "sessions", "votes", "comments",
                  "subscribers", "saved_searches", "digest_outbox", "sent_papers",
                  "followed_sources", "harvest_checkpoints"):  # fmt: skip
        assert f"  {table} " in r.stdout
    table_lines = [line for line in r.stdout.splitlines() if " rows  sha256 " in line]
    assert len({line.index(" rows ") for line in table_lines}) == 1, r.stdout  # one column
    again = migrate(data, pg_url)
    assert again.exit_code == 0 and "already holds this instance" in again.stdout

    for server in _start_server(tmp_path / "pg", pg_url):
        assert answers(server) == before
        reader = Visitor(server)  # the account came across: signing in works
        assert reader.sign_in("reader@example.org").status_code == 303
        store = open_store(server.settings)
        try:
            [entry] = store.outbox_entries("d:2026-11-30")
            assert (entry.state, entry.paper_ids) == ("sent", [PAPER])
            sub = store.subscriber_by_email("digest@example.org")
            assert sub.searches[0].filters == {"has_code": True}
            # New rows get fresh ids after the copied ones.
            assert store.add_subscriber(email="new@example.org")[0].id > sub.id
            assert [s.name for s in store.list_sources()] == ["arxiv:cs.CL"]
            assert store.get_checkpoint("oai:cs").state == {"from": "2026-08-20"}
        finally:
            store.close()


def test_interrupted_migrate_leaves_nothing_and_a_rerun_completes(
    tmp_path: Path, pg_url: str
) -> None:
    from paperfeed.sample import load_sample

    data = tmp_path / "sample"
    store = open_store(load_settings(data_dir=data))
    try:
        load_sample(store)  # ~9,800 real papers: the copy takes a moment
        papers = store.stats().papers
    finally:
        store.close()
    cmd = [sys.executable, "-m", "paperfeed", "--data-dir", str(data), "migrate", "--to", pg_url]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("copying papers:"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the copy ended before it could be killed"
    target = open_store(load_settings(data_dir=tmp_path / "t", database_url=pg_url))
    try:
        assert target.stats().papers == 0  # one transaction: nothing half-copied
    finally:
        target.close()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "copied and verified" in r.stdout
    target = open_store(load_settings(data_dir=tmp_path / "t", database_url=pg_url))
    try:
        assert target.stats().papers == papers
    finally:
        target.close()


def test_two_migrations_at_once_the_second_refuses(tmp_path: Path, pg_url: str) -> None:
    from paperfeed.store.copy import COPY_LOCK

    data = tmp_path / "small"
    for _ in _start_server(data):
        pass
    target = open_store(load_settings(data_dir=tmp_path / "t", database_url=pg_url))
    target.close()  # migrated schema
    with psycopg.connect(pg_url) as other:  # another migrate holding the target
        other.execute("SELECT pg_advisory_xact_lock(%s)", (COPY_LOCK,))
        r = migrate(data, pg_url)
        assert r.exit_code == 1
        assert "another `paperfeed migrate` is copying into this database" in r.output
    assert migrate(data, pg_url).exit_code == 0  # once it is done, ours runs


def test_target_with_other_data_is_refused_unless_replace(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "one"
    for _ in _start_server(data):
        pass
    target = open_store(load_settings(data_dir=tmp_path / "t", database_url=pg_url))
    try:
        target.add_subscriber(email="someone-else@example.org")
    finally:
        target.close()
    r = migrate(data, pg_url)
    assert r.exit_code == 1 and "already holds other paperfeed data" in r.output
    assert migrate(data, pg_url, "--replace").exit_code == 0
    assert os.path.exists(data / "paperfeed.sqlite3")  # the source is left as it was
