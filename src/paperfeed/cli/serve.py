"""`paperfeed serve`: the web app, with the daily digest job beside it."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from paperfeed.cli.common import after_ingest, opened_store, state
from paperfeed.digest import start_scheduler
from paperfeed.sample import load_sample
from paperfeed.store import open_store
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
    if not no_sample:
        with opened_store() as store:
            if store.stats().papers == 0:
                typer.echo(f"Empty catalogue in {settings.data_dir}: loading the bundled sample…")
                report = load_sample(store)
                typer.echo(report.summary())
                after_ingest(store)
    typer.echo(f"paperfeed serving on http://{host}:{port}/  (data: {settings.data_dir})")
    start_scheduler(settings, open_store(settings))  # daily digests at settings.digest_time
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add `serve` to the main CLI."""
    app.command()(serve)
