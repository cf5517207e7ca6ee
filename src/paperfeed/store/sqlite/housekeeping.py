"""Housekeeping on SQLite: the rules of store/purge.py in one write transaction."""

from __future__ import annotations

from datetime import datetime

from paperfeed.models import PurgeReport
from paperfeed.store.purge import purge_rows
from paperfeed.store.sqlite.db import Database


class SqliteHousekeeping:
    db: Database

    def purge_expired(self, *, now: datetime, unconfirmed_before: datetime) -> PurgeReport:
        with self.db.write() as conn:
            return purge_rows(
                lambda sql, params: conn.execute(sql, params).rowcount,
                placeholder="?",
                now=now,
                unconfirmed_before=unconfirmed_before,
            )
