"""The database going away: at start-up one clear line and a non-zero exit; while serving,
503 with a message, and service again once it is back. Uses a private PostgreSQL server
(initdb in a temp dir) so that stopping it disturbs nobody else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import _start_server, selected_backends

PAPER = "2608.17271"


def pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if versions:
        return versions[-1] / "bin"
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL server, stoppable and restartable, reached by its Unix socket
    in a private directory: no TCP port that another process (another xdist worker) could
    take between a choice and the server's bind, or while it is stopped."""

    def __init__(self, base: Path) -> None:
        self.bin = pg_bin()
        if self.bin is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.base = base
        self.data = base / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(base, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self.url = f"postgresql://postgres@/postgres?host={base}"

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        opts = f"-k {self.base} -c listen_addresses='' -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.base / "log"),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def private_pg(request: pytest.FixtureRequest) -> Iterator[PrivatePostgres]:
    if "postgres" not in selected_backends(request.config):
        pytest.skip("PostgreSQL-only test (run with --backend postgres or all)")
    # Not under pytest's temp dir: the server's user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="paperfeed-pg-"))
    try:
        pg = PrivatePostgres(base)
        try:
            yield pg
        finally:
            try:
                pg.stop()
            except subprocess.CalledProcessError:
                pass
    finally:
        shutil.rmtree(base, ignore_errors=True)


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
