"""PostgreSQL plumbing: a connection pool, numbered migrations, errors as 503s.

Every store call takes a pooled connection for one transaction (`transaction()`; reads
`read()`, without BEGIN/COMMIT), so any number of threads and processes share the
database; PostgreSQL's constraints and row locks are what keep them consistent. A database
that cannot be reached raises `ServiceUnavailable` (503 on the web, one line and a non-zero
exit in the CLI); after a connection fails the idle ones are tested and dead ones replaced,
so service recovers by itself once the server is back.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from paperfeed.errors import BadRequest, DatabaseUnavailable, ServiceUnavailable
from paperfeed.store import redact
from paperfeed.store.common.migrations import Script, apply_migrations, bundled_migrations
from paperfeed.store.sql import Params, Row

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x70667374  # pg_advisory_lock key: one migrating process at a time
HELD_LOCK = 0x70667376  # first key of the named locks of `hold_lock`
CONNECT_TIMEOUT_S = 5
POOL_WAIT_S = 5.0  # a request waits this long for a connection, then answers 503


def migration_scripts() -> list[Script]:
    """(number, name, sql) for every bundled PostgreSQL migration, in order."""
    return bundled_migrations("paperfeed.store.postgres")


def unreachable(url: str, exc: BaseException) -> DatabaseUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(f"database unreachable ({redact(url)}): {reason}")


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


def without_jit(url: str) -> str:
    """`url` with `jit=off` for the session: every query here is short, and a plan whose cost
    is overestimated (tables not analysed yet: autovacuum off, or just after a bulk load)
    would spend far longer compiling than running (0.7 s to JIT a 16 ms query of
    `followed_papers` at 10k papers)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["options"] = f"{params.get('options') or ''} -c jit=off".strip()
    return make_conninfo("", **params)


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
            without_jit(url),
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
        """Apply the missing migrations (store.common.migrations); processes opening the
        database at once queue on an advisory lock, so one migrates and the others find
        the work done."""

        @contextmanager
        def transaction() -> Iterator[PgConn]:
            with conn.transaction():
                yield PgConn(conn)

        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        conn.commit()  # the session keeps the lock; each migration is then its own transaction
        try:
            apply_migrations(transaction, migration_scripts())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            conn.commit()

    def hold_lock(self, name: str) -> SessionLock | None:
        """A session advisory lock on a connection of its own (not from the pool), held
        until `release()`; the server drops it when that connection ends (a killed
        process, a lost network)."""
        psycopg, _ = _import_psycopg()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            raise unreachable(self.url, exc) from None
        (taken,) = conn.execute(
            "SELECT pg_try_advisory_lock(%s::int, hashtext(%s))", (HELD_LOCK, name)
        ).fetchone()
        if not taken:
            conn.close()
            return None
        return SessionLock(conn, name)

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

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A pooled connection in autocommit mode, for reads: no BEGIN and COMMIT round
        trips (a one-query read is one round trip, not three). Each statement sees its own
        snapshot, as each statement of a READ COMMITTED transaction would."""
        with self.transaction() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                try:
                    conn.autocommit = False
                except Exception:  # broken: the pool discards it
                    log.debug("could not reset autocommit", exc_info=True)

    @contextmanager
    def autocommit(self) -> Iterator[Any]:
        """`read()`'s connection for a write that is one statement: in autocommit mode the
        statement is its own transaction (all or nothing), without BEGIN and COMMIT."""
        with self.read() as conn:
            yield conn

    def data_version(self) -> str:
        """The server's snapshot (xmin:xmax:in-progress xids): it moves when any write
        transaction starts or ends, so every commit changes it; reads never do. (It is the
        whole server's: other databases' writes move it too.)"""
        with self.read() as conn:
            (value,) = conn.execute("SELECT pg_current_snapshot()::text").fetchone()
        return str(value)

    @contextmanager
    def reading(self) -> Iterator[PgConn]:
        with self.read() as conn:
            yield PgConn(conn)

    @contextmanager
    def writing(self, *, defer_commit: bool = False) -> Iterator[PgConn]:
        if defer_commit:
            with self.deferred_commit() as conn:
                yield PgConn(conn)
        else:
            with self.transaction() as conn:
                yield PgConn(conn)

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


class SessionLock:
    """`store.base.HeldLock` as a session advisory lock on its own connection."""

    def __init__(self, conn: Any, name: str) -> None:
        self._conn: Any = conn
        self.name = name

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            row = self._conn.execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid = %s::int::oid "
                "AND objid = hashtext(%s)::oid AND objsubid = 2",
                (HELD_LOCK, self.name),
            ).fetchone()
        except Exception:  # the connection is gone, and the lock with it
            log.warning("lost the database lock %r", self.name, exc_info=True)
            self.release()
            return False
        return row is not None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ends the session: the server drops its locks
            except Exception:
                pass
            self._conn = None


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """Portable SQL (`?` placeholders) as psycopg takes it (`%s`, a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn:
    """`store.sql.Conn` over one pooled psycopg connection inside a transaction."""

    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    chunk = 50_000  # one array parameter: no limit worth chunking for

    def __init__(self, conn: Any) -> None:
        from psycopg.rows import dict_row

        self.conn = conn
        self._dict_row = dict_row

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self.conn.cursor(row_factory=self._dict_row)
        rows: list[Row] = cur.execute(pg_sql(sql), params).fetchall()
        return rows

    def one(self, sql: str, params: Params = ()) -> Row | None:
        cur = self.conn.cursor(row_factory=self._dict_row)
        row: Row | None = cur.execute(pg_sql(sql), params).fetchone()
        return row

    def tuples(self, sql: str, params: Params = ()) -> list[Any]:
        rows: list[Any] = self.conn.execute(pg_sql(sql), params).fetchall()
        return rows

    def value(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(pg_sql(sql), params).fetchone()
        return None if row is None else row[0]

    def run(self, sql: str, params: Params = ()) -> int:
        return int(self.conn.execute(pg_sql(sql), params).rowcount)

    def run_many(self, sql: str, params: Iterable[Params]) -> None:
        batch = list(params)
        if batch:
            self.conn.cursor().executemany(pg_sql(sql), batch)

    def script(self, sql: str) -> None:
        self.conn.execute(sql)  # no parameters: sent as it is, several statements at once

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def lock(self, key: int, name: str | None = None) -> None:
        if name is None:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        else:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", (key, name))

    def ci(self, expr: str) -> str:
        return f"lower({expr})"  # unique indexes on lower(email) back these lookups

    def json_values(self, expr: str) -> str:
        return f"jsonb_array_elements_text({expr}::jsonb) AS j(value)"


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
