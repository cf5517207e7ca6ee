"""Shared test fixtures: real stores on every backend, the real fixture files, the CLI.

Backends: `pytest --backend sqlite|postgres|all` (default: $PAPERFEED_TEST_BACKEND, else all).
A test that asks for the `backend` fixture (directly or through `store`, `database_url`,
`web_server`, ...) runs once per selected backend. PostgreSQL tests use a database created
for this test session (random name, from the server's `test` database, dropped at the end);
every store gets a fresh schema in it, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paperfeed.settings import Settings, load_settings
from paperfeed.store import Store, open_store

FIXTURES = Path(__file__).parent / "fixtures"

# The suite's search tests were written against the fast bundled static embedder; the ONNX
# transformer (the default where onnxruntime is installed) has its own tests, which name it
# (tests/test_search_onnx.py). Set here, before any Settings is built; subprocesses inherit it.
os.environ.setdefault("PAPERFEED_EMBEDDER", "static")
BACKENDS = ("sqlite", "postgres")
PG_ADMIN_URL = os.environ.get("PAPERFEED_TEST_PG", "postgresql://127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=[*BACKENDS, "all"],
        default=os.environ.get("PAPERFEED_TEST_BACKEND", "all"),
        help="store backend(s) the contract tests run on (default: all)",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    choice = config.getoption("--backend")
    return list(BACKENDS) if choice == "all" else [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize(
            "backend", selected_backends(metafunc.config), indirect=True, scope="module"
        )


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend this test runs on ('sqlite' or 'postgres')."""
    return str(request.param)


PG_TEST_PREFIX = "pf_test_"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def stale_test_databases(names: list[str]) -> list[str]:
    """Session databases whose test process is gone (killed before it could drop them):
    `pf_test_<pid>_<random>`, the pid no longer running on this machine."""
    stale = []
    for name in names:
        pid, _, rest = name.removeprefix(PG_TEST_PREFIX).partition("_")
        if name.startswith(PG_TEST_PREFIX) and pid.isdigit() and rest and not _pid_alive(int(pid)):
            stale.append(name)
    return stale


class PgDatabases:
    """One PostgreSQL database for this test session; a fresh schema per store.

    Named `pf_test_<pid>_<random>`: a session that was killed leaves its database behind,
    and the next session drops it (its pid is no longer alive)."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        self.name = f"{PG_TEST_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                self._drop_stale(conn)
                conn.execute(f"CREATE DATABASE {self.name}")
        except psycopg.OperationalError as exc:
            pytest.exit(
                f"PostgreSQL is not reachable at {admin_url} ({exc}); start it (scripts/test.sh "
                "does) or run with --backend sqlite",
                returncode=3,
            )
        base, _, _ = admin_url.rpartition("/")
        self.url = f"{base}/{self.name}"
        self._n = 0

    @staticmethod
    def _drop_stale(conn: Any) -> None:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (PG_TEST_PREFIX + "%",)
            )
        ]
        for name in stale_test_databases(names):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def new_url(self) -> str:
        """The URL of a new, empty schema in the session database."""
        import psycopg

        self._n += 1
        schema = f"s{self._n}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.url}?options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases(PG_ADMIN_URL)
    try:
        yield dbs
    finally:
        dbs.drop()


def new_database_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    """A fresh, empty store location on `backend` (None: SQLite in the data directory)."""
    if backend == "sqlite":
        return None
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    return dbs.new_url()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    """PAPERFEED_DATABASE_URL of a fresh store on `backend` (None: SQLite in the data dir)."""
    return new_database_url(request, backend)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL store URL, for tests of what only PostgreSQL offers (several
    processes on one database); skipped under --backend sqlite."""
    if "postgres" not in selected_backends(request.config):
        pytest.skip("PostgreSQL-only test (run with --backend postgres or all)")
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    return dbs.new_url()


@pytest.fixture
def store_factory(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[Callable[[], Store]]:
    """Opens fresh, empty stores on `backend`; closes them after the test."""
    opened: list[Store] = []

    def make() -> Store:
        url = new_database_url(request, backend)
        data = tmp_path / f"store{len(opened)}"
        store = open_store(load_settings(data_dir=data, database_url=url))
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            store.close()


@pytest.fixture
def fixtures_dir() -> Path:
    """The directory of real service responses and data samples used by the tests."""
    return FIXTURES


@pytest.fixture
def fresh_store(store_factory: Callable[[], Store]) -> Store:
    """An empty store on the backend under test, closed after the test."""
    return store_factory()


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
def cli(data_dir: Path, request: pytest.FixtureRequest) -> Callable[..., CliResult]:
    """Run `paperfeed --data-dir <tmp> ARGS...` in-process through Typer's CliRunner.

    In a test that runs per backend, the CLI uses that test's `database_url` store."""
    from paperfeed.cli import app

    base = ["--data-dir", str(data_dir)]
    if "backend" in request.fixturenames:
        url = request.getfixturevalue("database_url")
        if url:
            base += ["--database-url", url]

    def run(*args: str, input: str | None = None) -> CliResult:
        result = CliRunner().invoke(app, [*base, *args], input=input)
        return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)

    return run


# --- a private PostgreSQL server (initdb in a temp dir) ----------------------------------


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

    def __init__(self, base: Path, options: str = "") -> None:
        self.bin = pg_bin()
        self.options = options  # more server settings, e.g. "-c log_statement=all"
        if self.bin is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.base = base
        self.data = base / "data"
        self.log = base / "log"  # the server's messages (and statements, if it logs them)
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
        opts = f"-k {self.base} -c listen_addresses='' -c fsync=off {self.options}"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres(options: str = "") -> Iterator[PrivatePostgres]:
    """A `PrivatePostgres` for the block, removed after it."""
    import tempfile

    # Not under pytest's temp dir: the server's user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="paperfeed-pg-"))
    try:
        pg = PrivatePostgres(base, options)
        try:
            yield pg
        finally:
            try:
                pg.stop()
            except subprocess.CalledProcessError:
                pass
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def private_pg(request: pytest.FixtureRequest) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own (PostgreSQL-only: skipped under --backend
    sqlite), to stop and start without disturbing other tests."""
    if "postgres" not in selected_backends(request.config):
        pytest.skip("PostgreSQL-only test (run with --backend postgres or all)")
    with private_postgres() as pg:
        yield pg


# --- web app: a real uvicorn server on 127.0.0.1 over a temp data dir ---------------------

# --- a real browser ----------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's package
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs the Debian chromium package (/usr/bin/chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


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


def _start_server(
    data: Path,
    database_url: str | None = None,
    extra_sources: tuple[Path, ...] = (),
    **overrides: object,
) -> Iterator[LiveServer]:
    import threading
    import time

    import uvicorn

    from paperfeed.ingest import ingest_sources
    from paperfeed.search import sync_keyword_index
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store
    from paperfeed.web.app import create_app

    settings = load_settings(
        **{
            "data_dir": data,
            "secret_key": "test-secret-key-for-web-tests",
            "database_url": database_url,
            **overrides,
        }
    )
    store = open_store(settings)
    try:
        sources = [WEB_FIXTURE, WEB_UNLISTED, WEB_LATEX, *extra_sources]
        ingest_sources(store, [str(s) for s in sources])
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
def web_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, backend: str
) -> Iterator[LiveServer]:
    """The web app on a random loopback port over a fresh store on `backend`, its data
    loaded from `web_papers.jsonl`."""
    url = new_database_url(request, backend)
    yield from _start_server(tmp_path_factory.mktemp("web") / "data", url)


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

    def sign_up(  # noqa: ANN201
        self,
        email: str,
        password: str = "correct horse battery",
        name: str = "",
        sink: SmtpSink | None = None,
    ):
        """Sign up; on a server that sends mail (`sink` receives it) through the emailed link."""
        response = self.post_form("/signup", {"email": email, "password": password, "name": name})
        if sink is None:
            assert response.status_code == 303, response.text[:500]
            return response
        assert response.status_code == 200 and "Check your inbox" in response.text
        return self.follow_signup_link(sink.wait_for(email.lower(), subject="Finish creating"))

    def follow_signup_link(self, mail: ReceivedMail):  # noqa: ANN201
        import re

        body = mail.message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"https?://\S+(/signup/verify\?token=[\w.\-=%]+)", body)
        assert link, body
        page = self.http.get(link.group(1))
        token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
        response = self.post_form("/signup/verify", {"token": token}, page=link.group(1))
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
    peer: object = None  # the client's (host, port): one per connection
    mail_options: list[str] = field(default_factory=list)  # e.g. BODY=8BITMIME

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
        self.offer_8bitmime = True  # False: the EHLO reply leaves 8BITMIME out
        self._lock = threading.Lock()
        self.url = ""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201
        session.host_name = hostname  # what aiosmtpd does itself without this hook
        if self.offer_8bitmime:
            return responses
        return [r for r in responses if "8BITMIME" not in r.upper()]

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
                self.received.append(
                    ReceivedMail(
                        rcpt, bytes(envelope.content), session.peer, list(envelope.mail_options)
                    )
                )
        if self.delay:
            await asyncio.sleep(self.delay / 2)  # e.g. the queue file's fsync before the reply
        return "250 OK"

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.received if m.recipient == address]

    def wait_for(self, address: str, subject: str = "", timeout: float = 10) -> ReceivedMail:
        """The newest message to `address` whose subject starts with `subject` (waits)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if m.message["Subject"].startswith(subject)]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, f"no mail {subject!r} to {address}"
            time.sleep(0.02)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound here and never
    listened on, so no other process (another xdist worker) can take it meanwhile."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def _running_sink() -> Iterator[SmtpSink]:
    """An SMTP server on a port the kernel picks, bound before the server starts: no other
    process (another xdist worker) can take the port between its choice and its use."""
    import socket

    from aiosmtpd.controller import Controller

    class BoundController(Controller):
        def __init__(self, handler: object, sock: socket.socket) -> None:
            super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1])
            self._sock = sock

        def _create_server(self):  # noqa: ANN202 (aiosmtpd's hook: serve on our socket)
            return self.loop.create_server(
                self._factory_invoker, sock=self._sock, ssl=self.ssl_context
            )

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sink = SmtpSink()
    controller = BoundController(sink, sock)
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server in this process; `smtp_sink.url` goes into PAPERFEED_SMTP_URL."""
    with _running_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def sink(backend: str) -> Iterator[SmtpSink]:
    """A real SMTP server for a module's `server`, one per backend (each run sees only its
    own mail)."""
    with _running_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def server(
    sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    backend: str,
) -> Iterator[LiveServer]:
    """A live server that sends its mail to `sink`, over a fresh store on each backend."""
    os.environ["PAPERFEED_SMTP_URL"] = sink.url
    try:
        url = new_database_url(request, backend)
        data = tmp_path_factory.mktemp(request.module.__name__.removeprefix("test_")) / "data"
        yield from _start_server(data, url)
    finally:
        os.environ.pop("PAPERFEED_SMTP_URL", None)


def subscriber_manage_token(settings: Settings, email: str, searches: list[str]) -> str:
    """The "manage your subscription" token (digest preview, settings) of a new confirmed
    subscriber with these saved searches."""
    from paperfeed.digest.subscriptions import add_subscriber_confirmed
    from paperfeed.digest.tokens import Links

    store = open_store(settings)
    try:
        sub, _ = add_subscriber_confirmed(store, email=email, searches=searches, confirmed=True)
    finally:
        store.close()
    return Links(settings).token("manage", sub.id, sub.email)


def mail_link(mail: ReceivedMail, path: str) -> str:
    """The tokened link to `path` in a received message's text part."""
    import re

    body = mail.message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"(https?://\S+" + re.escape(path) + r"\?token=[\w.\-=%]+)", body)
    assert match, f"no {path} link in:\n{body}"
    return match.group(1)
