"""Followed sources and harvest checkpoints in PostgreSQL (same contract as SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from paperfeed.models import FollowedSource, HarvestCheckpoint
from paperfeed.store.postgres.db import Database


class PgHarvest:
    """Harvest part of the PostgreSQL store."""

    db: Database

    def add_source(self, name: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO followed_sources (name, added_at) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, datetime.now(UTC).isoformat()),
            )
            return bool(cur.rowcount > 0)

    def remove_source(self, name: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM followed_sources WHERE name = %s", (name,))
            return bool(cur.rowcount > 0)

    def list_sources(self) -> list[FollowedSource]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT name, added_at FROM followed_sources ORDER BY name")
            return [FollowedSource(r[0], datetime.fromisoformat(r[1])) for r in rows]

    def get_checkpoint(self, key: str) -> HarvestCheckpoint | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT key, state, updated_at, last_error FROM harvest_checkpoints WHERE key = %s",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return HarvestCheckpoint(
            row[0], orjson.loads(row[1]), datetime.fromisoformat(row[2]), row[3]
        )

    def save_checkpoint(self, key: str, state: dict[str, Any], *, error: str | None = None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO harvest_checkpoints (key, state, updated_at, last_error) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, "
                "updated_at = EXCLUDED.updated_at, last_error = EXCLUDED.last_error",
                (key, orjson.dumps(state).decode(), datetime.now(UTC).isoformat(), error),
            )
