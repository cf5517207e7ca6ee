"""Links in feeds and emails point where `paperfeed serve` really listens, and serve says
which base URL they use (issue 9, item 15)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import WEB_FIXTURE, SmtpSink

from paperfeed.settings import load_settings


@contextmanager
def serving(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[list[str]]:
    """`paperfeed serve` in a subprocess; yields its stdout lines up to "links in ..."."""
    command = [sys.executable, "-m", "paperfeed", "--data-dir", str(data_dir), "serve", *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("links in emails and feeds use"):
                break
        assert lines and lines[-1].startswith("links in"), lines
        yield lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def served_url(lines: list[str]) -> str:
    match = re.search(r"serving on (http://\S+?)/ ", "\n".join(lines))
    assert match, lines
    return match.group(1)


def test_links_follow_the_port_served(cli, data_dir: Path, smtp_sink: SmtpSink) -> None:
    assert cli("ingest", str(WEB_FIXTURE)).exit_code == 0
    env = {"PAPERFEED_SMTP_URL": smtp_sink.url, "PAPERFEED_BASE_URL": ""}
    with serving(data_dir, "--port", "0", "--no-sample", env=env) as lines:
        url = served_url(lines)
        assert url != "http://127.0.0.1:8000" and url.startswith("http://127.0.0.1:")
        assert lines[-1].startswith(f"links in emails and feeds use {url} ")
        feed = httpx.get(url + "/feeds/daily.xml")
        assert feed.status_code == 200
        links = re.findall(r"<link>([^<]+)</link>", feed.text)
        assert links and all(link.startswith(url + "/") for link in links), links[:3]
        assert "127.0.0.1:8000" not in feed.text
        r = httpx.post(url + "/api/subscriptions", json={"email": "reader@example.org"})
        assert r.status_code == 202, r.text
        mail = smtp_sink.to("reader@example.org")[0].message
        body = mail.get_body(("plain",)).get_content()
        assert f"{url}/subscriptions/confirm?token=" in body
        assert "127.0.0.1:8000" not in body
    # commands run outside serve (a cron `digest send`) use the same address
    assert load_settings(data_dir=data_dir).base_url == url


def test_an_explicit_base_url_wins_and_is_announced(cli, data_dir: Path) -> None:
    assert cli("ingest", str(WEB_FIXTURE)).exit_code == 0
    env = {"PAPERFEED_BASE_URL": "https://papers.example.org"}
    with serving(data_dir, "--port", "0", "--no-sample", env=env) as lines:
        assert lines[-1] == (
            "links in emails and feeds use https://papers.example.org  (PAPERFEED_BASE_URL)"
        )
        feed = httpx.get(served_url(lines) + "/feeds/trending.atom")
        assert 'href="https://papers.example.org/papers/' in feed.text


def test_a_port_in_use_fails_before_claiming_to_serve(cli, data_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "paperfeed", "--data-dir", str(data_dir), "serve"]
            + ["--port", str(port), "--no-sample"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert "serving on" not in result.stdout
    assert result.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "choose another --port or --host, or stop what is using it"
    )


def test_a_command_never_reads_a_half_written_served_url(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Serve rewrote `served_url` in place (truncate, then write): a command starting in
    between read an empty file and mailed links to the default address. The file is now
    written beside and renamed into place, so a reader sees the old URL or the new one."""
    import threading

    monkeypatch.setenv("PAPERFEED_BASE_URL", "")
    urls = ("http://127.0.0.1:41001", "http://127.0.0.1:41002")
    writer = load_settings(data_dir=tmp_path)
    writer.use_served_url(urls[0])
    stop = threading.Event()

    def serve_again_and_again() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            writer.use_served_url(urls[i % 2])

    thread = threading.Thread(target=serve_again_and_again)
    thread.start()
    try:
        seen = {load_settings(data_dir=tmp_path).base_url for _ in range(3000)}
    finally:
        stop.set()
        thread.join()
    assert seen <= set(urls), seen
    assert [p.name for p in tmp_path.iterdir()] == ["served_url"]  # no draft left behind
