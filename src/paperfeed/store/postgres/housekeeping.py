"""Housekeeping on PostgreSQL: the rules of store/purge.py in one transaction."""

from __future__ import annotations

from datetime import datetime

from paperfeed.models import PurgeReport
from paperfeed.store.postgres.db import Database
from paperfeed.store.purge import purge_rows


class PgHousekeeping:
    db: Database

    def purge_expired(self, *, now: datetime, unconfirmed_before: datetime) -> PurgeReport:
        with self.db.transaction() as conn:
            return purge_rows(
                lambda sql, params: int(conn.execute(sql, params).rowcount),
                placeholder="%s",
                now=now,
                unconfirmed_before=unconfirmed_before,
            )
