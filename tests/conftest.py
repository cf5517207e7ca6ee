"""Shared test fixtures: real temp SQLite stores, the real fixture files, the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """The directory of real service responses and data samples used by the tests."""
    return FIXTURES


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """An empty SQLite store in a temp file, closed after the test."""
    store = SqliteStore(tmp_path / "store" / "paperfeed.sqlite3")
    try:
        yield store
    finally:
        store.close()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh data directory for CLI and app tests."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def cli(data_dir: Path) -> Callable[..., CliResult]:
    """Run `paperfeed --data-dir <tmp> ARGS...` in-process through Typer's CliRunner."""
    from paperfeed.cli import app

    def run(*args: str, input: str | None = None) -> CliResult:
        result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], input=input)
        return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)

    return run


# --- web app: a real uvicorn server on 127.0.0.1 over a temp data dir ---------------------

WEB_FIXTURE = FIXTURES / "web_papers.jsonl"  # 90 real HF daily papers (3 latest days + more)
# 10 real arXiv API records that are on no daily list (so they can be submitted to today's)
WEB_UNLISTED = FIXTURES / "arxiv_api_query_all-science_2019-08-10.xml"
# 3 real arXiv cs listings whose abstracts carry LaTeX ($\\widetilde{O}(\\sqrt{...})$, $j<i$)
WEB_LATEX = FIXTURES / "web_latex.jsonl"


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    settings: object


def _start_server(data: Path, **overrides: object) -> Iterator[LiveServer]:
    import threading
    import time

    import uvicorn

    from paperfeed.ingest import ingest_sources
    from paperfeed.search import sync_keyword_index
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store
    from paperfeed.web.app import create_app

    settings = load_settings(
        **{"data_dir": data, "secret_key": "test-secret-key-for-web-tests", **overrides}
    )
    store = open_store(settings)
    try:
        ingest_sources(store, [str(WEB_FIXTURE), str(WEB_UNLISTED), str(WEB_LATEX)])
        sync_keyword_index(store, settings)
    finally:
        store.close()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    settings.base_url = f"http://127.0.0.1:{port}"
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", data_dir=data, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web app on a random loopback port, its data loaded from `web_papers.jsonl`."""
    yield from _start_server(tmp_path_factory.mktemp("web") / "data")


class Visitor:
    """A browser-like HTTP client: keeps cookies, reads CSRF tokens from pages, signs up/in."""

    _next_address = 2

    def __init__(self, server: LiveServer) -> None:
        import httpx

        # Each visitor connects from its own loopback address, as separate clients would,
        # so the per-client sign-up throttle counts each one apart.
        Visitor._next_address += 1
        n = Visitor._next_address
        self.address = f"127.0.{n // 250 % 250}.{n % 250 + 2}"
        self.server = server
        self.http = httpx.Client(
            base_url=server.url,
            follow_redirects=False,
            timeout=30,
            transport=httpx.HTTPTransport(local_address=self.address),
        )

    def csrf(self, path: str = "/signin") -> str:
        import re

        page = self.http.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post_form(self, path: str, data: dict[str, str], page: str = "/signin"):  # noqa: ANN201
        return self.http.post(path, data={"csrf_token": self.csrf(page), **data})

    def sign_up(self, email: str, password: str = "correct horse battery", name: str = ""):  # noqa: ANN201
        response = self.post_form("/signup", {"email": email, "password": password, "name": name})
        assert response.status_code == 303, response.text[:500]
        return response

    def sign_in(self, email: str, password: str = "correct horse battery"):  # noqa: ANN201
        return self.post_form("/signin", {"email": email, "password": password})

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def visitor(web_server: LiveServer) -> Iterator[Visitor]:
    """A fresh anonymous visitor of `web_server`."""
    v = Visitor(web_server)
    try:
        yield v
    finally:
        v.close()


# --- digests: a real SMTP server (aiosmtpd) on 127.0.0.1 --------------------------------


@dataclass
class ReceivedMail:
    recipient: str
    raw: bytes

    @property
    def message(self):  # noqa: ANN201
        import email
        from email import policy

        return email.message_from_bytes(self.raw, policy=policy.default)


class SmtpSink:
    """An aiosmtpd handler keeping what it accepts; can refuse 451 (N times) or 550 (per rcpt)."""

    def __init__(self) -> None:
        import threading

        self.received: list[ReceivedMail] = []
        self.tempfail_data = 0  # answer this many DATA commands with 451, then accept
        self.reject = set()  # recipients answered 550 at RCPT
        self.delay = 0.0  # seconds per message, half at RCPT, half before the final 250
        self.rcpt_seen: list[str] = []
        self._lock = threading.Lock()
        self.url = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        import asyncio

        self.rcpt_seen.append(address)
        if self.delay:
            await asyncio.sleep(self.delay / 2)
        if address in self.reject:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        """Like an MTA, the message is kept (queued) once the final dot is in, then 250 sent."""
        import asyncio

        with self._lock:
            if self.tempfail_data > 0:
                self.tempfail_data -= 1
                return "451 4.3.0 temporary failure, try again later"
            for rcpt in envelope.rcpt_tos:
                self.received.append(ReceivedMail(rcpt, bytes(envelope.content)))
        if self.delay:
            await asyncio.sleep(self.delay / 2)  # e.g. the queue file's fsync before the reply
        return "250 OK"

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.received if m.recipient == address]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server in this process; `smtp_sink.url` goes into PAPERFEED_SMTP_URL."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.url = f"smtp://127.0.0.1:{port}"
    try:
        yield sink
    finally:
        controller.stop()
