"""Followed sources and harvest checkpoints in SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from paperfeed.models import FollowedSource, HarvestCheckpoint
from paperfeed.store.sqlite.db import Database


class SqliteHarvest:
    """Harvest part of the SQLite store."""

    db: Database

    def add_source(self, name: str) -> bool:
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO followed_sources (name, added_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat()),
            )
            return cur.rowcount > 0

    def remove_source(self, name: str) -> bool:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM followed_sources WHERE name = ?", (name,)).rowcount > 0

    def list_sources(self) -> list[FollowedSource]:
        rows = self.db.read.execute("SELECT name, added_at FROM followed_sources ORDER BY name")
        return [FollowedSource(r[0], datetime.fromisoformat(r[1])) for r in rows]

    def get_checkpoint(self, key: str) -> HarvestCheckpoint | None:
        row = self.db.read.execute(
            "SELECT key, state, updated_at, last_error FROM harvest_checkpoints WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return HarvestCheckpoint(
            row[0], orjson.loads(row[1]), datetime.fromisoformat(row[2]), row[3]
        )

    def save_checkpoint(self, key: str, state: dict[str, Any], *, error: str | None = None) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO harvest_checkpoints (key, state, updated_at, last_error) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at, last_error = excluded.last_error",
                (key, orjson.dumps(state).decode(), datetime.now(UTC).isoformat(), error),
            )
