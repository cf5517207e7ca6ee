"""Several `paperfeed serve` processes on one PostgreSQL database act as one service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import WEB_FIXTURE, WEB_UNLISTED, LiveServer, Visitor

from paperfeed.ingest import ingest_sources
from paperfeed.settings import load_settings
from paperfeed.store import open_store

PAPER = "2608.17271"  # one of the fixture papers
SECRET = "scale-out-shared-secret"  # every instance signs sessions and links with it


def start_instance(data: Path, url: str, log: Path) -> subprocess.Popen:
    """`paperfeed serve` on a port the kernel picks when it binds (--port 0): no other
    process can take it between a choice and the bind. `wait_up` reads which one."""
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_SECRET_KEY": SECRET,
        "PAPERFEED_DIGEST_TIME": "",
    }
    cmd = [sys.executable, "-m", "paperfeed", "--data-dir", str(data), "serve"]
    cmd += ["--port", "0", "--no-sample"]
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_up(proc: subprocess.Popen, data: Path, log: Path) -> LiveServer:
    """The instance, once it says where it serves and answers there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        serving = re.search(r"paperfeed serving on (http://127\.0\.0\.1:\d+)/", log.read_text())
        if serving:
            server = LiveServer(url=serving.group(1), data_dir=data, settings=None)
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"instance did not start:\n{log.read_text()}")


@pytest.fixture
def two_instances(tmp_path: Path, pg_url: str) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    store = open_store(load_settings(data_dir=tmp_path / "seed", database_url=pg_url))
    try:
        ingest_sources(store, [str(WEB_FIXTURE)])
    finally:
        store.close()
    procs = [start_instance(tmp_path / name, pg_url, tmp_path / f"{name}.log") for name in "ab"]
    try:
        servers = []
        for proc, name in zip(procs, "ab", strict=True):
            servers.append(wait_up(proc, tmp_path / name, tmp_path / f"{name}.log"))
            # A new instance indexes the database before answering, with progress shown.
            log = (tmp_path / f"{name}.log").read_text()
            assert "keyword: 90/90" in log or "keyword: done" in log, log
        yield servers[0], servers[1], pg_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def token(server: LiveServer, email: str) -> dict[str, str]:
    r = httpx.post(
        server.url + "/api/session", json={"email": email, "password": "correct horse battery"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_two_serve_processes_act_as_one_service(two_instances, tmp_path: Path) -> None:  # noqa: ANN001
    a, b, url = two_instances
    # An account made on one instance signs in on the other; a session from one works on both.
    Visitor(a).sign_up("first@example.org")
    auth = token(b, "first@example.org")
    assert httpx.get(a.url + f"/api/papers/{PAPER}", headers=auth).status_code == 200
    before = httpx.get(a.url + f"/api/papers/{PAPER}").json()["upvotes"]

    # Ten readers each upvote the same paper through both instances at the same instant.
    tokens = []
    for i in range(10):
        email = f"reader{i}@example.org"
        Visitor(a if i % 2 else b).sign_up(email)
        tokens.append(token(a if i % 2 else b, email))
    barrier = threading.Barrier(20)
    answers: list[int] = []

    def vote(server: LiveServer, headers: dict[str, str]) -> None:
        barrier.wait()
        r = httpx.post(f"{server.url}/api/papers/{PAPER}/upvote", headers=headers, timeout=30)
        answers.append(r.status_code)

    threads = [
        threading.Thread(target=vote, args=(server, headers))
        for headers in tokens
        for server in (a, b)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 20
    for server in (a, b):
        assert httpx.get(f"{server.url}/api/papers/{PAPER}").json()["upvotes"] == before + 10

    # A comment made through one is listed by the other at once.
    r = httpx.post(
        f"{a.url}/api/papers/{PAPER}/comments", headers=tokens[0], json={"content": "Seen on a"}
    )
    assert r.status_code == 201, r.text
    comments = httpx.get(f"{b.url}/api/papers/{PAPER}/comments").json()
    assert any("Seen on a" in str(c) for c in comments)

    # A paper ingested through one instance is found by search on the other within 10 s.
    query = "Defining Data Science"
    assert query not in httpx.get(f"{b.url}/api/papers/search", params={"q": query}).text
    env = {**os.environ, "PAPERFEED_DATABASE_URL": url}
    ingest = subprocess.run(
        [sys.executable, "-m", "paperfeed", "--data-dir", str(a.data_dir), "ingest",
         str(WEB_UNLISTED)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    ingested = time.monotonic()
    while True:
        hits = httpx.get(f"{b.url}/api/papers/search", params={"q": query, "limit": 3}).json()
        if any(h["title"] == "Defining Data Science" for h in hits):
            break
        assert time.monotonic() - ingested < 10, "not searchable on the other instance in 10 s"
        time.sleep(0.2)
