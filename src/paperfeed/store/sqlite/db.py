"""SQLite plumbing: WAL mode, one writer, per-thread readers, numbered migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from paperfeed.store.failures import storage_error

log = logging.getLogger(__name__)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migration_scripts() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every bundled migration, in order."""
    folder = resources.files("paperfeed.store.sqlite") / "migrations"
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            scripts.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


class Database:
    """Owns the connections to one SQLite file.

    Writes go through `write()`, serialised by a lock and run as `BEGIN IMMEDIATE`
    transactions; reads use a connection private to the calling thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        with self.disk_errors():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = _connect(path)
        self._migrate()

    @contextmanager
    def disk_errors(self) -> Iterator[None]:
        """Turn a read-only, full or failing disk into one clear StorageError."""
        try:
            yield
        except (sqlite3.OperationalError, OSError) as exc:
            problem = storage_error(exc, self.path)
            if problem is None:
                raise
            raise problem from exc

    def _migrate(self) -> None:
        with self.write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for number, name, sql in migration_scripts():
            if number in done:
                continue
            log.info("applying migration %s", name)
            with self.write() as conn:
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (number, name))

    def schema_version(self) -> tuple[int, int]:
        """(latest migration applied to this file, latest bundled)."""
        (applied,) = self.read.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(applied or 0), max((n for n, _, _ in migration_scripts()), default=0)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; committed on success, rolled back on any exception."""
        with self._write_lock, self.disk_errors():
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.OperationalError:  # a full disk may refuse even this
                        log.warning("rollback failed on %s", self.path, exc_info=True)
                raise

    @property
    def read(self) -> sqlite3.Connection:
        """This thread's read connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.disk_errors():
                conn = _connect(self.path)
                conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            self._readers.append(conn)
        return conn

    def close(self) -> None:
        for conn in [self._writer, *self._readers]:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass
        self._readers.clear()


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration script (executed one by one inside our transaction)."""
    statements, current = [], []
    for line in sql.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            statements.append("\n".join(current).strip())
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return [s for s in statements if s]
