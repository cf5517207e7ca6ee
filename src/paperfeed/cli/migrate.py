"""`paperfeed migrate --to postgresql://...`: copy this SQLite instance into PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperfeed.cli.common import say, state
from paperfeed.errors import BadRequest, ConfigError


def migrate(
    to: Annotated[
        str, typer.Option("--to", help="Target database, postgresql://user@host:5432/dbname.")
    ],
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Overwrite a target that holds other paperfeed data."),
    ] = False,
) -> None:
    """Copy the whole instance (papers, daily list, accounts, votes, comments, subscriptions,
    outbox, ...) into PostgreSQL, verify counts and checksums; safe to rerun."""
    from paperfeed.store import POSTGRES_EXTRA_MISSING, is_postgres_url

    try:
        from paperfeed.store.copy import copy_sqlite_to_postgres
        from paperfeed.store.postgres import PostgresStore
    except ImportError as exc:  # psycopg is an optional extra
        raise ConfigError(f"{POSTGRES_EXTRA_MISSING} ({exc})") from None
    from paperfeed.store.sqlite import SqliteStore

    if not is_postgres_url(to):
        raise BadRequest("--to must be a postgresql://... URL")
    settings = state.settings
    if is_postgres_url(settings.database_url):
        raise BadRequest("the source must be a SQLite instance (unset PAPERFEED_DATABASE_URL)")
    url = settings.database_url or ""
    path = Path(url.removeprefix("sqlite:///")) if url else settings.sqlite_path
    if not path.exists():
        raise BadRequest(f"no SQLite database at {path}")
    source = SqliteStore(path)
    target = PostgresStore(to, pool_size=2)
    try:

        def progress(table: str, done: int, total: int) -> None:
            say(f"copying {table}: {done}/{total}", err=True)

        report = copy_sqlite_to_postgres(source, target, replace=replace, progress=progress)
    finally:
        target.close()
        source.close()
    say(report.summary())


def register(app: typer.Typer) -> None:
    """Add `migrate` to the main CLI."""
    app.command()(migrate)
