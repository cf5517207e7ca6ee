"""SQLite plumbing: WAL mode, one writer, per-thread readers, numbered migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from paperfeed.store.common.migrations import Script, apply_migrations, bundled_migrations
from paperfeed.store.failures import storage_error
from paperfeed.store.sql import Params, Row

log = logging.getLogger(__name__)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    # switching a fresh file to WAL needs it alone: SQLite answers "database is locked" at
    # once, without its busy handler, while another process does the same; retry for 10 s
    for attempt in range(200):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.05)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migration_scripts() -> list[Script]:
    """(number, name, sql) for every bundled SQLite migration, in order."""
    return bundled_migrations("paperfeed.store.sqlite")


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
        self._version_lock = threading.Lock()
        self._version_conn: sqlite3.Connection | None = None
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
        apply_migrations(self.writing, migration_scripts())

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

    @contextmanager
    def reading(self) -> Iterator[SqliteConn]:
        """This thread's read connection, as the shared store code speaks to it."""
        yield SqliteConn(self.read)

    @contextmanager
    def writing(self, *, defer_commit: bool = False) -> Iterator[SqliteConn]:
        """A write transaction (`defer_commit` means nothing here: a commit is local)."""
        with self.write() as conn:
            yield SqliteConn(conn)

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

    def hold_lock(self, name: str) -> FileLock | None:
        """An exclusive lock on `<database>.<name>.lock` beside the file (processes sharing
        the file share the folder); the OS drops it when the process dies."""
        return FileLock.take(self.path.with_name(f"{self.path.name}.{name}.lock"))

    def data_version(self) -> int:
        """A number that changes whenever any connection, of this process or another,
        commits to the file (`PRAGMA data_version` on a connection that never writes)."""
        with self._version_lock:
            if self._version_conn is None:
                with self.disk_errors():
                    conn = _connect(self.path)
                    conn.execute("PRAGMA query_only=ON")
                self._version_conn = conn
                self._readers.append(conn)
            (value,) = self._version_conn.execute("PRAGMA data_version").fetchone()
            return int(value)

    def close(self) -> None:
        for conn in [self._writer, *self._readers]:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass
        self._readers.clear()


class FileLock:
    """`store.base.HeldLock` as an flock on a file."""

    def __init__(self, file: BinaryIO) -> None:
        self._file: BinaryIO | None = file

    @classmethod
    def take(cls, path: Path) -> FileLock | None:
        import fcntl

        file = open(path, "a+b")  # noqa: SIM115 - held open for as long as the lock is
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return None
        return cls(file)

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None


class SqliteConn:
    """`store.sql.Conn` over one sqlite3 connection. The locks are no-ops: every write
    transaction is `BEGIN IMMEDIATE` behind one lock, so it is alone already."""

    for_update = ""
    skip_locked = ""
    chunk = 500  # ids per IN (...), well under SQLite's variable limit

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def tuples(self, sql: str, params: Params = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def value(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def run(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def run_many(self, sql: str, params: Iterable[Params]) -> None:
        self.conn.executemany(sql, params)

    def script(self, sql: str) -> None:
        for statement in _split_sql(sql):
            self.conn.execute(statement)

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def lock(self, key: int, name: str | None = None) -> None:
        pass

    def ci(self, expr: str) -> str:
        return expr  # the e-mail columns are COLLATE NOCASE

    def json_values(self, expr: str) -> str:
        return f"json_each({expr}) j"


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
