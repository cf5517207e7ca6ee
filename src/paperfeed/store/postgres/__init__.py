"""The PostgreSQL store: the same protocol as SQLite, for many app instances and workers."""

from __future__ import annotations

from paperfeed.store.postgres.accounts import PgAccounts
from paperfeed.store.postgres.catalogue import PgCatalogue
from paperfeed.store.postgres.db import Database, migration_scripts
from paperfeed.store.postgres.harvest import PgHarvest
from paperfeed.store.postgres.housekeeping import PgHousekeeping
from paperfeed.store.postgres.jobs import PgJobs
from paperfeed.store.postgres.library import PgLibrary
from paperfeed.store.postgres.subscriptions import PgSubscriptions


class PostgresStore(
    PgCatalogue, PgAccounts, PgSubscriptions, PgHarvest, PgJobs, PgLibrary, PgHousekeeping
):
    """All of paperfeed's records in one PostgreSQL database (psycopg 3 connection pool)."""

    def __init__(self, url: str, *, pool_size: int = 16) -> None:
        self.url = url
        self.db = Database(url, max_size=pool_size)

    def schema_version(self) -> tuple[int, int]:
        applied = self.db.applied_migrations()
        return (max(applied, default=0), max((n for n, _, _ in migration_scripts()), default=0))

    def close(self) -> None:
        self.db.close()


__all__ = ["PostgresStore"]
