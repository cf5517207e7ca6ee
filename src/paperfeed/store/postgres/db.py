"""PostgreSQL plumbing: a connection pool, numbered migrations, errors as 503s.

Every store call takes a pooled connection for one transaction (`transaction()`), so any
number of threads and processes share the database; PostgreSQL's constraints and row locks
are what keep them consistent. A database that cannot be reached raises `ServiceUnavailable`
(503 on the web, one line and a non-zero exit in the CLI); pooled connections are checked
before use, so service recovers by itself once the server is back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from paperfeed.errors import ServiceUnavailable

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x70667374  # pg_advisory_lock key: one migrating process at a time
CONNECT_TIMEOUT_S = 5


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


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
        self._errors = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
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
            check=psycopg_pool.ConnectionPool.check_connection,
            open=False,
            name="paperfeed",
        )
        self.pool.open(wait=False)

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
        try:
            with self.pool.connection(timeout=CONNECT_TIMEOUT_S * 2) as conn:
                yield conn
        except self._errors as exc:
            raise unreachable(self.url, exc) from exc

    def close(self) -> None:
        self.pool.close()
