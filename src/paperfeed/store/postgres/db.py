"""PostgreSQL plumbing: a connection pool, numbered migrations, errors as 503s.

Every store call takes a pooled connection for one transaction (`transaction()`), so any
number of threads and processes share the database; PostgreSQL's constraints and row locks
are what keep them consistent. A database that cannot be reached raises `ServiceUnavailable`
(503 on the web, one line and a non-zero exit in the CLI); after a connection fails the
idle ones are tested and dead ones replaced, so service recovers by itself once the server is
back.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from paperfeed.errors import BadRequest, ServiceUnavailable
from paperfeed.store import redact

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x70667374  # pg_advisory_lock key: one migrating process at a time
CONNECT_TIMEOUT_S = 5
POOL_WAIT_S = 5.0  # a request waits this long for a connection, then answers 503


def migration_scripts() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every bundled PostgreSQL migration, in order."""
    folder = resources.files("paperfeed.store.postgres") / "migrations"
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            scripts.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


def unreachable(url: str, exc: BaseException) -> ServiceUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ServiceUnavailable(f"database unreachable ({redact(url)}): {reason}")


def bad_value(exc: BaseException) -> BadRequest:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid value"
    return BadRequest(f"invalid input: {reason}")


def _import_psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - depends on the install
        raise ServiceUnavailable(
            "the PostgreSQL store needs psycopg: pip install 'paperfeed[postgres]'"
        ) from None
    return psycopg, psycopg_pool


class Database:
    """A pool of connections to one PostgreSQL database, migrated on open."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16) -> None:
        psycopg, psycopg_pool = _import_psycopg()
        self.url = url
        self._errors = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)
        # Values PostgreSQL cannot hold (a NUL byte in text, an integer out of range): the
        # input is bad, not the server (SQLite stores them; here they are a clear 400).
        self._bad_values = psycopg.DataError
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                self._migrate(conn)
        except psycopg.OperationalError as exc:
            raise unreachable(url, exc) from None
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
            open=False,
            name="paperfeed",
        )
        self.pool.open(wait=False)
        self._local = threading.local()  # a connection whose COMMIT is on its way

    # -- migrations ----------------------------------------------------------------------

    def _migrate(self, conn: Any) -> None:
        """Apply the missing migrations, each in its own transaction (DDL is transactional
        here, so an interrupted migration leaves nothing half-done and a rerun completes it).
        Concurrent openers wait on an advisory lock."""
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            conn.commit()
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            conn.commit()
            for number, name, sql in migration_scripts():
                if number in done:
                    continue
                log.info("applying migration %s", name)
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (number, name))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            conn.commit()

    def applied_migrations(self) -> list[int]:
        with self.transaction() as conn:
            return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]

    # -- connections ---------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A pooled connection inside one transaction: committed on success, rolled back
        on any exception. Connection failures become `ServiceUnavailable`."""
        self.settle()
        try:
            with self.pool.connection(timeout=POOL_WAIT_S) as conn:
                yield conn
        except self._errors as exc:
            self._drop_broken()
            raise unreachable(self.url, exc) from exc
        except self._bad_values as exc:
            raise bad_value(exc) from exc

    def _drop_broken(self) -> None:
        """After a connection failed: test the idle ones and replace those that are dead
        (a restarted server leaves every pooled connection broken), so that service resumes
        with the next request instead of one failure per stale connection. Connections are
        not tested on every checkout: that would cost a round trip per query."""
        try:
            self.pool.check()
        except Exception:  # the server is still away: the pool keeps trying to reconnect
            log.debug("pool check failed", exc_info=True)

    # -- a commit whose reply is read later (the digest outbox's claim) ------------------

    @contextmanager
    def deferred_commit(self) -> Iterator[Any]:
        """A transaction whose COMMIT is sent at the end but whose reply is read by the
        next call of this thread (`settle()`).

        The digest claim uses it: the moment between "the claim is committed" and "the
        message's final dot is on the wire" is then two socket writes, not a round trip
        to the database server. A kill in between loses the digest (see digest.send), so
        that moment must be as short as it can be. To decline, roll back inside the block.
        """
        self.settle()
        try:
            conn = self.pool.getconn(timeout=POOL_WAIT_S)
        except self._errors as exc:
            raise unreachable(self.url, exc) from exc
        try:
            yield conn
            pg = conn.pgconn
            if pg.transaction_status != _IDLE:
                pg.send_query(b"COMMIT")
                while pg.flush() != 0:
                    select.select([], [pg.socket], [], 1.0)
                self._local.pending = conn
                return
        except BaseException as exc:
            try:
                conn.rollback()
            except Exception:
                pass
            self.pool.putconn(conn)
            if isinstance(exc, self._errors):
                self._drop_broken()
                raise unreachable(self.url, exc) from exc
            if isinstance(exc, self._bad_values):
                raise bad_value(exc) from exc
            raise
        self.pool.putconn(conn)

    def settle(self) -> None:
        """Read the reply of this thread's deferred COMMIT and give its connection back."""
        conn = getattr(self._local, "pending", None)
        if conn is None:
            return
        self._local.pending = None
        error = None
        try:
            error = _read_results(conn.pgconn)
        except Exception as exc:
            error = str(exc)
        finally:
            self.pool.putconn(conn)
        if error:
            log.error("a deferred commit failed (a digest may be sent twice): %s", error)

    def close(self) -> None:
        self.settle()
        self.pool.close()


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


def _read_results(pg: Any, timeout: float = 30.0) -> str | None:
    """Consume every pending result on `pg`; the first error message, if any."""
    from psycopg import pq

    error = None
    deadline = time.monotonic() + timeout
    while True:
        pg.consume_input()
        while pg.is_busy():
            if time.monotonic() > deadline:
                return "no reply from the database"
            select.select([pg.socket], [], [], 1.0)
            pg.consume_input()
        result = pg.get_result()
        if result is None:
            return error
        if result.status != pq.ExecStatus.COMMAND_OK and error is None:
            error = (result.error_message or b"").decode("utf-8", "replace").strip()
