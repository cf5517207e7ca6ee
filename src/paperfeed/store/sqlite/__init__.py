"""The embedded SQLite store (the default)."""

from __future__ import annotations

from pathlib import Path

from paperfeed.store.common.accounts import Accounts
from paperfeed.store.common.catalogue import CatalogueReads
from paperfeed.store.common.harvest import Harvest
from paperfeed.store.common.housekeeping import Housekeeping
from paperfeed.store.common.jobs import Jobs
from paperfeed.store.common.library import Library
from paperfeed.store.common.subscriptions import Subscriptions
from paperfeed.store.sqlite.catalogue import SqliteCatalogue
from paperfeed.store.sqlite.db import Database, FileLock


class SqliteStore(
    SqliteCatalogue,
    CatalogueReads,
    Accounts,
    Subscriptions,
    Harvest,
    Jobs,
    Library,
    Housekeeping,
):
    """All of paperfeed's records in one SQLite file (WAL mode, one writer).

    Accounts, subscriptions, harvest, jobs and housekeeping are written once for both
    backends (store/common/); the catalogue and library keep SQLite-specific SQL here."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path)

    def schema_version(self) -> tuple[int, int]:
        return self.db.schema_version()

    def hold_lock(self, name: str) -> FileLock | None:
        return self.db.hold_lock(name)

    def data_version(self) -> int:
        return self.db.data_version()

    def close(self) -> None:
        self.db.close()


__all__ = ["SqliteStore"]
