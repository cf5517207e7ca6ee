"""Numbered schema migrations, applied the same way on every backend.

Each backend bundles its SQL twins (`store/<backend>/migrations/NNNN_name.sql`, one numbered
sequence). Every missing migration runs in its own write transaction, which first checks
that no other process applied it meanwhile: DDL is transactional on both backends, so an
interrupted migration leaves nothing half-done and a rerun completes it, and processes
opening one fresh database at once apply each migration exactly once (the others wait on
the write lock, then skip it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from importlib import resources

from paperfeed.errors import SchemaTooNew
from paperfeed.store.sql import Conn

log = logging.getLogger(__name__)

Script = tuple[int, str, str]  # (number, file name, sql)


def bundled_migrations(package: str) -> list[Script]:
    """(number, name, sql) for every migration bundled in `package`, in order."""
    scripts = []
    for entry in (resources.files(package) / "migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            scripts.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


def check_schema_known(applied: int, known: int) -> None:
    """Refuse a database migrated beyond the scripts this paperfeed bundles (a newer
    paperfeed ran on it): the one check behind every command, `serve` and `doctor`."""
    if applied > known:
        raise SchemaTooNew(applied, known)


def apply_migrations(
    transaction: Callable[[], AbstractContextManager[Conn]],
    scripts: list[Script],
) -> list[str]:
    """Apply the scripts not yet recorded in schema_migrations; the names applied.

    A database newer than `scripts` raises `SchemaTooNew` before any change."""
    with transaction() as conn:
        conn.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        done = {row["version"] for row in conn.rows("SELECT version FROM schema_migrations")}
    check_schema_known(max(done, default=0), max((n for n, _, _ in scripts), default=0))
    applied = []
    for number, name, sql in scripts:
        if number in done:
            continue
        with transaction() as conn:
            if conn.one("SELECT 1 AS x FROM schema_migrations WHERE version = ?", (number,)):
                continue  # another process applied it while we waited
            log.info("applying migration %s", name)
            conn.script(sql)
            conn.run("INSERT INTO schema_migrations VALUES (?, ?)", (number, name))
        applied.append(name)
    return applied
