"""Housekeeping on every backend: the rules of store/purge.py in one write transaction."""

from __future__ import annotations

from datetime import datetime

from paperfeed.models import PurgeReport
from paperfeed.store.purge import purge_rows
from paperfeed.store.sql import HasDb


class Housekeeping(HasDb):
    """Housekeeping part of the store."""

    def purge_expired(self, *, now: datetime, unconfirmed_before: datetime) -> PurgeReport:
        with self.db.writing() as conn:
            return purge_rows(
                conn.run, placeholder="?", now=now, unconfirmed_before=unconfirmed_before
            )
