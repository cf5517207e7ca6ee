"""Copy a whole SQLite instance into a PostgreSQL database (`paperfeed migrate --to`).

Every table the migrations made (the two backends share one numbered sequence, so the same
tables and columns exist on both) is copied with COPY, parents before children, from one
SQLite read snapshot (a running instance may keep writing; the copy is of one instant).
The whole copy is one PostgreSQL transaction: interrupted, it leaves nothing behind and a
rerun starts over; before committing, each table's row count and an order-independent
checksum of its rows are read back from PostgreSQL and compared with the source. A rerun
over a target that already holds exactly the source is verified and reported, not copied
again. Two runs against one target: the second refuses at once (advisory lock).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from paperfeed.errors import Conflict
from paperfeed.store.postgres import PostgresStore
from paperfeed.store.sqlite import SqliteStore

COPY_LOCK = 0x70667379  # pg_advisory_lock key held by a running copy
BATCH = 5000
Progress = Callable[[str, int, int], None]  # (table, rows done, rows in table)


@dataclass(slots=True)
class TableReport:
    table: str
    rows: int
    checksum: str


@dataclass(slots=True)
class CopyReport:
    tables: list[TableReport] = field(default_factory=list)
    already_there: bool = False

    def summary(self) -> str:
        head = (
            "target already holds this instance (verified, nothing copied)"
            if self.already_there
            else "copied and verified"
        )
        width = max((len(t.table) for t in self.tables), default=0)
        lines = [head]
        lines += [
            f"  {t.table:<{width}} {t.rows:>9} rows  sha256 {t.checksum[:16]}" for t in self.tables
        ]
        return "\n".join(lines)


class RowDigest:
    """An order-independent checksum of rows: the sum of each row's SHA-256, mod 2^256."""

    def __init__(self) -> None:
        self.total = 0
        self.rows = 0

    def add(self, row: Iterable[Any]) -> None:
        text = "\x1f".join("\x00" if v is None else f"{type(v).__name__}:{v!r}" for v in row)
        self.total = (self.total + int(hashlib.sha256(text.encode()).hexdigest(), 16)) % (1 << 256)
        self.rows += 1

    def hexdigest(self) -> str:
        return f"{self.total:064x}"


def _normalise(value: Any) -> Any:
    """SQLite and PostgreSQL give back the same Python types for our columns, except that
    a REAL column may hold an integral value SQLite returns as int."""
    return float(value) if isinstance(value, float) else value


def source_tables(conn: sqlite3.Connection) -> list[str]:
    """The data tables, parents before children (foreign keys)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'schema_migrations' ORDER BY name"
        )
    ]
    parents = {
        name: {r[2] for r in conn.execute(f'PRAGMA foreign_key_list("{name}")')} - {name}
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:  # a cycle: keep the rest in name order (FKs are checked at commit)
            ready = [n for n in names if n not in ordered]
        ordered.extend(ready)
    return ordered


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    cols = ", ".join(f'"{c}"' for c in columns)
    cur = conn.execute(f'SELECT {cols} FROM "{table}"')
    while batch := cur.fetchmany(BATCH):
        for row in batch:
            yield tuple(_normalise(v) for v in row)


def _pg_columns(pg: Any, table: str) -> list[str] | None:
    rows = pg.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [r[0] for r in rows] or None


def _pg_digest(pg: Any, table: str, columns: list[str]) -> RowDigest:
    digest = RowDigest()
    cols = ", ".join(f'"{c}"' for c in columns)
    with pg.cursor(name=f"pf_verify_{table}") as cur:  # server-side: constant memory
        cur.execute(f'SELECT {cols} FROM "{table}"')
        while batch := cur.fetchmany(BATCH):
            for row in batch:
                digest.add(_normalise(v) for v in row)
    return digest


def copy_sqlite_to_postgres(
    source: SqliteStore,
    target: PostgresStore,
    *,
    replace: bool = False,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every table of `source` into `target` (see the module docstring)."""
    src = sqlite3.connect(source.path, timeout=30)
    try:
        src.execute("BEGIN")  # one read snapshot for the whole copy
        tables = source_tables(src)
        with target.db.transaction() as pg:
            (locked,) = pg.execute("SELECT pg_try_advisory_xact_lock(%s)", (COPY_LOCK,)).fetchone()
            if not locked:
                raise Conflict(
                    "another `paperfeed migrate` is copying into this database: wait for it "
                    "to finish, then run again to verify"
                )
            plan = []
            for table in tables:
                columns = _columns(src, table)
                target_columns = _pg_columns(pg, table)
                if target_columns is None or set(target_columns) != set(columns):
                    raise Conflict(
                        f"table {table} differs between SQLite and PostgreSQL "
                        f"({columns} vs {target_columns}): upgrade paperfeed"
                    )
                plan.append((table, columns))
            report = CopyReport()
            sources = {}
            for table, columns in plan:
                digest = RowDigest()
                for row in _rows(src, table, columns):
                    digest.add(row)
                sources[table] = digest
            existing = {table: _pg_digest(pg, table, columns) for table, columns in plan}
            if all(existing[t].hexdigest() == sources[t].hexdigest() for t, _ in plan):
                report.already_there = True
                report.tables = [
                    TableReport(t, sources[t].rows, sources[t].hexdigest()) for t, _ in plan
                ]
                return report
            if not replace and not _fresh(existing):
                raise Conflict(
                    "the target database already holds other paperfeed data; use a new "
                    "database, or --replace to overwrite it with this instance"
                )
            for table, _ in reversed(plan):
                pg.execute(f'DELETE FROM "{table}"')
            for table, columns in plan:
                total = sources[table].rows
                cols = ", ".join(f'"{c}"' for c in columns)
                done = 0
                with pg.cursor().copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    for row in _rows(src, table, columns):
                        copy.write_row(row)
                        done += 1
                        if progress and done % BATCH == 0:
                            progress(table, done, total)
                if progress:
                    progress(table, done, total)
                (sequence,) = pg.execute(
                    "SELECT pg_get_serial_sequence(%s, 'id')" if "id" in columns else "SELECT NULL",
                    (table,) if "id" in columns else (),
                ).fetchone()
                if sequence:  # new rows get ids after the copied ones
                    pg.execute(
                        f'SELECT setval(%s, coalesce((SELECT max(id) FROM "{table}"), 0) + 1, '
                        "false)",
                        (sequence,),
                    )
            for table, columns in plan:
                copied = _pg_digest(pg, table, columns)
                if (copied.rows, copied.hexdigest()) != (
                    sources[table].rows,
                    sources[table].hexdigest(),
                ):
                    raise Conflict(
                        f"verification failed for {table}: {copied.rows} rows copied of "
                        f"{sources[table].rows} (checksums differ); nothing was committed"
                    )
                report.tables.append(TableReport(table, copied.rows, copied.hexdigest()))
            return report
    finally:
        src.close()


def _fresh(existing: dict[str, RowDigest]) -> bool:
    """Only what the migrations themselves insert (the change_seq row)."""
    return all(d.rows == 0 for t, d in existing.items() if t != "change_seq")
