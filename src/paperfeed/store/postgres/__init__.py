"""The PostgreSQL store: the same protocol as SQLite, for many app instances and workers."""

from __future__ import annotations

from paperfeed.store.common.accounts import Accounts
from paperfeed.store.common.catalogue import CatalogueReads
from paperfeed.store.common.harvest import Harvest
from paperfeed.store.common.housekeeping import Housekeeping
from paperfeed.store.common.jobs import Jobs
from paperfeed.store.common.library import Library
from paperfeed.store.common.subscriptions import Subscriptions
from paperfeed.store.postgres.accounts import PgVotes
from paperfeed.store.postgres.catalogue import PgCatalogue
from paperfeed.store.postgres.db import Database, SessionLock, migration_scripts


class PostgresStore(
    PgCatalogue,
    PgVotes,
    CatalogueReads,
    Accounts,
    Subscriptions,
    Harvest,
    Jobs,
    Library,
    Housekeeping,
):
    """All of paperfeed's records in one PostgreSQL database (psycopg 3 connection pool)."""

    def __init__(self, url: str, *, pool_size: int = 16) -> None:
        self.url = url
        self.db = Database(url, max_size=pool_size)

    def schema_version(self) -> tuple[int, int]:
        applied = self.db.applied_migrations()
        return (max(applied, default=0), max((n for n, _, _ in migration_scripts()), default=0))

    def hold_lock(self, name: str) -> SessionLock | None:
        return self.db.hold_lock(name)

    def data_version(self) -> str:
        return self.db.data_version()

    def close(self) -> None:
        self.db.close()


__all__ = ["PostgresStore"]
