"""`paperfeed serve`: the web app, with the daily digest job beside it."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from paperfeed.cli.common import after_ingest, opened_store, state
from paperfeed.digest import start_scheduler
from paperfeed.progress import Progress
from paperfeed.sample import load_sample
from paperfeed.store import Store, open_store
from paperfeed.web.app import create_app


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_sample: Annotated[
        bool, typer.Option("--no-sample", help="Do not load the bundled sample corpus.")
    ] = False,
) -> None:
    """Start the web app (loads the bundled sample on an empty data directory)."""
    settings = state.settings
    with opened_store() as store:
        if not no_sample and store.stats().papers == 0:
            typer.echo(f"Empty catalogue in {settings.data_dir}: loading the bundled sample…")
            report = load_sample(store)
            typer.echo(report.summary())
            after_ingest(store)
        build_keyword_index(store)
    typer.echo(f"paperfeed serving on http://{host}:{port}/  (data: {settings.data_dir})")
    start_scheduler(settings, open_store(settings))  # daily digests at settings.digest_time
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def build_keyword_index(store: Store) -> None:
    """Index what the database has and this data directory's keyword index lacks, with
    progress, before answering: a new instance (say, another one on a shared PostgreSQL
    database) serves keyword search from its first request; vectors follow in the
    background, and every instance keeps following the change sequence while it runs."""
    from paperfeed.search.indexer import sync_keyword

    progress = Progress()
    sync_keyword(store, state.settings.index_dir, progress=progress.phase)
    progress.finish()


def register(app: typer.Typer) -> None:
    """Add `serve` to the main CLI."""
    app.command()(serve)
