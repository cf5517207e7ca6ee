"""The system of record. `open_store(settings)` picks the implementation:
SQLite in the data directory (default, `sqlite:///path`) or PostgreSQL (`postgresql://...`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from paperfeed.errors import ConfigError
from paperfeed.store.base import Store

if TYPE_CHECKING:
    from paperfeed.settings import Settings


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


POSTGRES_EXTRA_MISSING = (
    "PostgreSQL needs the postgres extra (psycopg 3): pip install 'paperfeed[postgres]'"
)


def open_store(settings: Settings) -> Store:
    """The store configured by `settings` (SQLite in the data directory by default)."""
    url = settings.database_url or ""
    if is_postgres_url(url):
        try:
            from paperfeed.store.postgres import PostgresStore
        except ImportError as exc:  # psycopg is an optional extra
            if not (exc.name or "").startswith("psycopg"):
                raise  # our own code is never optional
            raise ConfigError(f"{POSTGRES_EXTRA_MISSING} ({exc})") from None
        return PostgresStore(url)
    if url and not url.startswith("sqlite:///"):
        raise ConfigError(f"unsupported PAPERFEED_DATABASE_URL: {url.split(':', 1)[0]}://...")
    from pathlib import Path

    from paperfeed.store.sqlite import SqliteStore

    path = Path(url.removeprefix("sqlite:///")) if url else settings.sqlite_path
    return SqliteStore(path)


__all__ = ["POSTGRES_EXTRA_MISSING", "Store", "is_postgres_url", "open_store", "redact"]
