"""The system of record. `open_store(settings)` picks the implementation:
SQLite in the data directory (default, `sqlite:///path`) or PostgreSQL (`postgresql://...`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from paperfeed.errors import ConfigError, NotFound
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


def _missing(path: Path) -> bool:
    """No file at `path`, and nothing in the way of one (a file where a folder should be is
    the store's own clear error: see `store/failures.py`)."""
    if path.exists():
        return False
    existing = next((p for p in path.parents if p.exists()), None)
    return existing is None or existing.is_dir()


def open_store(settings: Settings, *, existing: bool = False) -> Store:
    """The store configured by `settings` (SQLite in the data directory by default).

    `existing` (read-only commands): a SQLite file that is not there is a NotFound, never
    created along with its directory."""
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
    from paperfeed.store.sqlite import SqliteStore

    path = Path(url.removeprefix("sqlite:///")) if url else settings.sqlite_path
    if existing and _missing(path):
        raise NotFound(
            f"no paperfeed database at {path} (check --data-dir / --database-url; "
            "`paperfeed ingest` or `paperfeed serve` creates one)"
        )
    return SqliteStore(path)


__all__ = ["POSTGRES_EXTRA_MISSING", "Store", "is_postgres_url", "open_store", "redact"]
