"""The system of record. `open_store(settings)` picks the implementation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperfeed.errors import BadRequest
from paperfeed.store.base import Store

if TYPE_CHECKING:
    from paperfeed.settings import Settings


def open_store(settings: Settings) -> Store:
    """The store configured by `settings` (SQLite in the data directory by default)."""
    url = settings.database_url or ""
    if url.startswith(("postgres://", "postgresql://")):
        raise BadRequest(
            "the PostgreSQL store is not available in this release; unset PAPERFEED_DATABASE_URL"
        )
    if url and not url.startswith("sqlite:///"):
        raise BadRequest(f"unsupported PAPERFEED_DATABASE_URL: {url.split(':', 1)[0]}://...")
    from pathlib import Path

    from paperfeed.store.sqlite import SqliteStore

    path = Path(url.removeprefix("sqlite:///")) if url else settings.sqlite_path
    return SqliteStore(path)


__all__ = ["Store", "open_store"]
