"""A read-only or full disk is one clear line (what, where, what to do) from every command and
a clear 503 from the web app, never a traceback; `serve` refuses before it claims to serve;
nothing stored is lost (issue 9, item 11).

The disk is a real tmpfs mounted for the test (root, or CAP_SYS_ADMIN, is needed: CI runs as
root), filled to the last byte or remounted read-only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import WEB_FIXTURE, WEB_LATEX

FULL = re.compile(
    r"^Error: cannot write \S+: the disk holding \S+ is full \(\d+ KiB free\); "
    r"free some space and retry \(nothing stored was lost\)$"
)
READ_ONLY = re.compile(
    r"^Error: cannot write \S+: the file system holding \S+ is mounted "
    r"read-only; remount it read-write or point --data-dir / "
    r"PAPERFEED_DATA_DIR at a writable directory$"
)


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "disk"
    point.mkdir()
    if os.geteuid() != 0 or mount("-t", "tmpfs", "-o", "size=24m", "tmpfs", str(point)).returncode:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def paperfeed(data: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERFEED_SECRET_KEY": "k" * 32}
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def fill(disk: Path) -> Path:
    """Write until the disk refuses another byte."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 512)
                f.flush()
        except OSError:
            pass
    return filler


def wait_until_up(url: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("serve did not come up")


def one_error_line(result: subprocess.CompletedProcess[str], pattern: re.Pattern[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1 and pattern.match(lines[0]), result.stderr


def papers(data: Path) -> int:
    out = paperfeed(data, "stats", "--json")
    assert out.returncode == 0, out.stderr
    import json

    return int(json.loads(out.stdout)["papers"])


@pytest.mark.timeout(900)  # a dozen CLI runs and a server: minutes on a busy machine
def test_full_disk(small_disk: Path) -> None:
    data = small_disk / "data"
    assert paperfeed(data, "ingest", str(WEB_FIXTURE)).returncode == 0
    assert (
        paperfeed(data, "users", "add", "me@example.org", "--password", "long enough pw").returncode
        == 0
    )
    before = papers(data)

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paperfeed",
            "--data-dir",
            str(data),
            "serve",
            "--port",
            "0",
            "--no-sample",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PAPERFEED_SECRET_KEY": "k" * 32},
    )
    try:
        line = ""
        while "serving on" not in line:
            line = server.stdout.readline()
            assert line, "serve exited"
        url = re.search(r"serving on (http://\S+?)/ ", line).group(1)
        wait_until_up(url)
        filler = fill(small_disk)
        r = httpx.post(
            url + "/api/session",
            json={"email": "me@example.org", "password": "long enough pw"},
            timeout=30,
        )
        assert r.status_code == 503, r.text
        assert "is full" in r.json()["error"] and r.json()["status"] == 503
        assert httpx.get(url + "/api/daily_papers", timeout=30).status_code == 200  # reads work
        for args in (("ingest", str(WEB_LATEX)), ("serve", "--port", "0", "--no-sample")):
            result = paperfeed(data, *args)
            one_error_line(result, FULL)
            assert "serving on" not in result.stdout
        for args in (("stats",), ("search", "attention")):  # reads may still work
            result = paperfeed(data, *args)
            if result.returncode:
                one_error_line(result, FULL)
        filler.unlink()
        r = httpx.post(
            url + "/api/session",
            json={"email": "me@example.org", "password": "long enough pw"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert papers(data) == before  # nothing lost
    assert paperfeed(data, "ingest", str(WEB_LATEX)).returncode == 0


@pytest.mark.timeout(900)
def test_read_only_disk(small_disk: Path) -> None:
    data = small_disk / "data"
    assert paperfeed(data, "ingest", str(WEB_FIXTURE)).returncode == 0
    before = papers(data)
    assert mount("-o", "remount,ro", str(small_disk)).returncode == 0
    for args in (
        ("search", "attention"),
        ("ingest", str(WEB_LATEX)),
        ("serve", "--port", "0", "--no-sample"),
    ):
        result = paperfeed(data, *args)
        one_error_line(result, READ_ONLY)
        assert "serving on" not in result.stdout
    stats = paperfeed(data, "stats")  # reading may work; if not, it says why in one line
    if stats.returncode:
        one_error_line(stats, READ_ONLY)
    assert mount("-o", "remount,rw", str(small_disk)).returncode == 0
    assert papers(data) == before


def test_a_file_where_the_data_directory_should_be(tmp_path: Path) -> None:
    """`--data-dir` naming a file (or a path through one) is one line naming the file in the
    way, from every command and from `serve`, never a FileExistsError traceback."""
    blocker = tmp_path / "paperfeed"
    blocker.write_text("not a directory\n")
    for data, args in [
        (blocker, ["stats"]),
        (blocker, ["search", "attention"]),
        (blocker, ["serve", "--port", "0", "--no-sample"]),
        (blocker / "data", ["ingest", str(WEB_FIXTURE)]),
    ]:
        result = paperfeed(data, *args, timeout=60)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.splitlines() == [
            f"Error: cannot write {data}: {blocker} is a file, not a directory; point "
            "--data-dir / PAPERFEED_DATA_DIR (or PAPERFEED_DATABASE_URL) at a directory"
        ], args
    assert blocker.read_text() == "not a directory\n"
