"""The embedded SQLite store (the default)."""

from __future__ import annotations

from pathlib import Path

from paperfeed.store.sqlite.accounts import SqliteAccounts
from paperfeed.store.sqlite.catalogue import SqliteCatalogue
from paperfeed.store.sqlite.db import Database
from paperfeed.store.sqlite.harvest import SqliteHarvest
from paperfeed.store.sqlite.housekeeping import SqliteHousekeeping
from paperfeed.store.sqlite.jobs import SqliteJobs
from paperfeed.store.sqlite.library import SqliteLibrary
from paperfeed.store.sqlite.subscriptions import SqliteSubscriptions


class SqliteStore(
    SqliteCatalogue,
    SqliteAccounts,
    SqliteSubscriptions,
    SqliteHarvest,
    SqliteJobs,
    SqliteLibrary,
    SqliteHousekeeping,
):
    """All of paperfeed's records in one SQLite file (WAL mode, one writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path)

    def schema_version(self) -> tuple[int, int]:
        return self.db.schema_version()

    def close(self) -> None:
        self.db.close()


__all__ = ["SqliteStore"]
