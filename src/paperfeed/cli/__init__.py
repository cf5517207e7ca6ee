"""The `paperfeed` command: the same services as the web app, from a terminal or cron.

One module per command group, each registered below by name. A command only validates its
arguments, calls a service function and formats the result; errors from the
`PaperfeedError` family become one line on stderr and a non-zero exit (`common.py`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from paperfeed.cli import (
    catalogue,
    digest,
    doctor,
    harvest,
    library,
    migrate,
    search,
    serve,
    users,
    worker,
)
from paperfeed.cli.common import ErrorsAsMessages, show_progress_lines, state

app = typer.Typer(
    cls=ErrorsAsMessages,
    help="paperfeed: research-paper discovery (daily lists, trending, search).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Data directory (default: $PAPERFEED_DATA_DIR, else a per-user directory).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Store location (default: $PAPERFEED_DATABASE_URL, else SQLite in the data "
            "directory); postgresql://... selects PostgreSQL.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    state.data_dir = data_dir
    state.database_url = database_url
    state._settings = None
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


catalogue.register(app)  # ingest, papers show|list, stats
search.register(app)  # search, eval, index, similar
serve.register(app)  # serve
users.register(app)  # users add|role|list
digest.register(app)  # digest send|preview, subscribers add|list|remove
harvest.register(app)  # sources add|list|remove, harvest
worker.register(app)  # worker
doctor.register(app)  # doctor
migrate.register(app)  # migrate --to postgresql://...
library.register(app)  # library export|list|add|follow, recommend


def main() -> None:
    """Console-script entry point."""
    show_progress_lines()
    app()


__all__ = ["app", "main"]
