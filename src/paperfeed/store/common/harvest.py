"""Followed sources and harvest checkpoints, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from paperfeed.models import FollowedSource, HarvestCheckpoint
from paperfeed.store.sql import HasDb


class Harvest(HasDb):
    """Harvest part of the store."""

    def add_source(self, name: str) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "INSERT INTO followed_sources (name, added_at) VALUES (?, ?) "
                    "ON CONFLICT (name) DO NOTHING",
                    (name, datetime.now(UTC).isoformat()),
                )
                > 0
            )

    def remove_source(self, name: str) -> bool:
        with self.db.writing() as conn:
            return conn.run("DELETE FROM followed_sources WHERE name = ?", (name,)) > 0

    def list_sources(self) -> list[FollowedSource]:
        with self.db.reading() as conn:
            rows = conn.rows("SELECT name, added_at FROM followed_sources ORDER BY name")
        return [FollowedSource(r["name"], datetime.fromisoformat(r["added_at"])) for r in rows]

    def get_checkpoint(self, key: str) -> HarvestCheckpoint | None:
        with self.db.reading() as conn:
            row = conn.one(
                "SELECT key, state, updated_at, last_error FROM harvest_checkpoints WHERE key = ?",
                (key,),
            )
        if row is None:
            return None
        return HarvestCheckpoint(
            row["key"],
            orjson.loads(row["state"]),
            datetime.fromisoformat(row["updated_at"]),
            row["last_error"],
        )

    def save_checkpoint(self, key: str, state: dict[str, Any], *, error: str | None = None) -> None:
        with self.db.writing() as conn:
            conn.run(
                "INSERT INTO harvest_checkpoints (key, state, updated_at, last_error) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at, last_error = excluded.last_error",
                (key, orjson.dumps(state).decode(), datetime.now(UTC).isoformat(), error),
            )
