"""The database going away: at start-up one clear line and a non-zero exit; while serving,
503 with a message, and service again once it is back. Uses a private PostgreSQL server
(initdb in a temp dir) so that stopping it disturbs nobody else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import _start_server

PAPER = "2608.17271"


def test_unreachable_database_at_start_up_is_one_line_and_a_non_zero_exit(
    tmp_path, closed_port
) -> None:  # noqa: ANN001
    closed = f"postgresql://paperfeed@127.0.0.1:{closed_port}/paperfeed"
    for args in (["stats"], ["serve", "--no-sample", "--port", "0"]):
        r = subprocess.run(
            [sys.executable, "-m", "paperfeed", "--data-dir", str(tmp_path), *args],
            env={**os.environ, "PAPERFEED_DATABASE_URL": closed},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode != 0
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("Error: database unreachable (postgresql://"), lines[0]


def test_lost_database_gives_503_then_service_resumes(private_pg, tmp_path) -> None:  # noqa: ANN001
    for server in _start_server(tmp_path / "data", private_pg.url):
        page = f"{server.url}/api/papers/{PAPER}"
        assert httpx.get(page, timeout=30).status_code == 200
        private_pg.stop()
        r = httpx.get(page, timeout=60)
        assert r.status_code == 503
        assert "database unreachable" in r.json()["error"]
        html = httpx.get(f"{server.url}/papers/{PAPER}", timeout=60)
        assert html.status_code == 503 and "database unreachable" in html.text
        # pages waiting for the database (the page cache's data version, then the app's
        # reads: seconds each) do not hold up the event loop: /healthz answers meanwhile
        with ThreadPoolExecutor(2) as pool:
            waiting = [
                pool.submit(httpx.get, f"{server.url}/papers/{PAPER}", timeout=60) for _ in range(2)
            ]
            time.sleep(0.3)
            start = time.monotonic()
            assert httpx.get(f"{server.url}/healthz", timeout=60).status_code == 200
            healthz_s = time.monotonic() - start
            assert [w.result().status_code for w in waiting] == [503, 503]
        assert healthz_s < 2.0, f"/healthz waited {healthz_s:.1f} s behind the lost database"
        private_pg.start()
        deadline = time.monotonic() + 60
        while (status := httpx.get(page, timeout=60).status_code) != 200:
            assert status == 503
            assert time.monotonic() < deadline, "no recovery after the database came back"
            time.sleep(0.5)
        r = httpx.get(f"{server.url}/api/daily_papers", timeout=30)
        assert r.status_code == 200 and r.json()


def test_search_indexer_logs_an_outage_once_and_when_it_ends(private_pg, tmp_path, caplog) -> None:  # noqa: ANN001
    """While the database was down, serve's search indexer logged a full traceback every
    poll (5 s); now one line when the outage starts and one when the store answers again."""
    import logging

    caplog.set_level(logging.INFO, logger="paperfeed.search")

    def indexer_lines() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name.startswith("paperfeed.search") and r.levelno >= logging.WARNING
        ]

    for _server in _start_server(tmp_path / "data", private_pg.url):
        time.sleep(6)  # the indexer's first round (the static vectors of the papers)
        before = len(indexer_lines())
        private_pg.stop()
        time.sleep(17)  # three polls of the indexer, every 5 s
        during = indexer_lines()[before:]
        assert len(during) == 1, [r.getMessage() for r in during]
        assert during[0].exc_info is None and "database unreachable" in during[0].getMessage()
        private_pg.start()
        deadline = time.monotonic() + 60
        while len(indexer_lines()) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        after = indexer_lines()[before + 1 :]
        assert after and "again" in after[0].getMessage(), [r.getMessage() for r in after]
        assert all(r.exc_info is None for r in indexer_lines()[before:])
