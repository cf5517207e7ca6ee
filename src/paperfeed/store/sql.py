"""The small SQL surface both backends expose, so that store logic is written once.

The store's rules (who may claim a digest, when a throttle refuses, how a job's lease runs
out) live in `store/common/` and speak portable SQL through a `Conn`: `?` placeholders,
standard upserts (`ON CONFLICT ... DO ...`), `RETURNING`. Each backend's `Database` hands
one out for reading (`reading()`) or for one write transaction (`writing()`), and fills in
what differs: the driver, id lists (`in_list`), row locks (`for_update`, `skip_locked`),
advisory locks (`lock`), case-insensitive matching (`ci`) and JSON arrays (`json_values`).
SQLite runs one writer at a time, so its locks are no-ops; PostgreSQL serves many
processes, so they are real.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from paperfeed.errors import NotFound

Params = Sequence[Any]


class Row(Protocol):
    """A result row, read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


class Conn(Protocol):
    """One read snapshot or one write transaction on either backend."""

    for_update: str  # " FOR UPDATE" where rows can be locked; "" where the writer is alone
    skip_locked: str  # " FOR UPDATE SKIP LOCKED" likewise
    chunk: int  # how many ids one `in_list` may take

    def rows(self, sql: str, params: Params = ()) -> list[Row]: ...

    def one(self, sql: str, params: Params = ()) -> Row | None: ...

    def tuples(self, sql: str, params: Params = ()) -> list[Any]:
        """The rows, read by position (cheaper than by name for wide, hot reads)."""
        ...

    def value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        ...

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; the number of rows it changed."""
        ...

    def run_many(self, sql: str, params: Iterable[Params]) -> None: ...

    def script(self, sql: str) -> None:
        """Run a script of several statements (a migration), as the backend writes it."""
        ...

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column IN (...)` for at most `chunk` values: the SQL and its parameters."""
        ...

    def lock(self, key: int, name: str | None = None) -> None:
        """Hold a lock named by (key, name) until this transaction ends."""
        ...

    def ci(self, expr: str) -> str:
        """`expr` as compared case-insensitively (for e-mail addresses)."""
        ...

    def json_values(self, expr: str) -> str:
        """A FROM item `j` whose rows' `j.value` are the strings of the JSON array `expr`."""
        ...


class SqlDatabase(Protocol):
    def reading(self) -> AbstractContextManager[Conn]: ...

    def writing(self, *, defer_commit: bool = False) -> AbstractContextManager[Conn]:
        """One write transaction: committed on success, rolled back on any exception.
        `defer_commit`: the commit's reply may be read later (see the PostgreSQL Database)."""
        ...


class HasDb:
    """Base of the shared mixins: the store they are mixed into has a `db`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> SqlDatabase: ...


def each_in(conn: Conn, column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """`in_list` over `values`, a chunk at a time (nothing for no values)."""
    for start in range(0, len(values), conn.chunk):
        yield conn.in_list(column, values[start : start + conn.chunk])


def found(row: Row | None, what: str) -> Row:
    """`row`, which the transaction has just written or matched; NotFound if another
    process removed it in between."""
    if row is None:
        raise NotFound(f"{what} was removed meanwhile")
    return row
