"""`paperfeed sources ...` and `paperfeed harvest`: follow arXiv categories / HF daily, fetch
what is new since the last run."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any

import typer

from paperfeed.cli.common import echo_json, opened_store, say, state
from paperfeed.dates import parse_day
from paperfeed.ingest import harvest as harvesting
from paperfeed.search.follow import following_imports

sources_app = typer.Typer(
    help="Followed sources: arXiv categories (arxiv:cs.CL) and Hugging Face's daily list "
    "(hf-daily).",
    no_args_is_help=True,
)


@sources_app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="arxiv:<category> (e.g. arxiv:cs.CL) or hf-daily.")],
) -> None:
    """Follow a source; the next `paperfeed harvest` (or serve's schedule) fetches it."""
    with opened_store() as store:
        source, added = harvesting.add_source(store, name)
    say(f"following {source.name}" if added else f"{source.name} was already followed")


@sources_app.command("remove")
def sources_remove(name: Annotated[str, typer.Argument(help="A followed source.")]) -> None:
    """Stop following a source (its papers stay in the catalogue)."""
    with opened_store() as store:
        source = harvesting.remove_source(store, state.settings, name)
    say(f"no longer following {source.name}")


@sources_app.command("list")
def sources_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Followed sources, where each is configured, and its harvest checkpoints."""
    with opened_store(existing=True) as store:
        rows: list[dict[str, Any]] = []
        for source, origin in harvesting.list_sources(store, state.settings):
            keys = harvesting.feed_keys(source)
            points = {k: store.get_checkpoint(k) for k in keys}
            rows.append(
                {
                    "name": source.name,
                    "from": origin,
                    "feeds": {
                        k: (
                            {
                                "state": cp.state,
                                "updated_at": cp.updated_at.isoformat() if cp.updated_at else None,
                                "last_error": cp.last_error,
                            }
                            if cp
                            else None
                        )
                        for k, cp in points.items()
                    },
                }
            )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        say("no followed sources (add one: paperfeed sources add arxiv:cs.CL)")
    for row in rows:
        say(f"{row['name']}  ({row['from']})")
        for key, cp in row["feeds"].items():
            if cp is None:
                say(f"  {key}: never harvested")
                continue
            where = ", ".join(f"{k}={v}" for k, v in cp["state"].items() if v is not None)
            error = f"  LAST ERROR: {cp['last_error']}" if cp["last_error"] else ""
            say(f"  {key}: {where or 'started'} (at {cp['updated_at']}){error}")


def harvest(
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source (e.g. arxiv:cs.CL).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Start at this day (YYYY-MM-DD) instead of the checkpoint."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Stop at this day (YYYY-MM-DD; default today).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and parse, write nothing.")
    ] = False,
) -> None:
    """Fetch what is new from the followed sources since the last run (resumable)."""
    with opened_store() as store:
        # As `paperfeed ingest`: the keyword index follows the harvest's writes (new papers
        # and updated ones) and is complete when it returns.
        indexing: AbstractContextManager[None] = (
            nullcontext() if dry_run else following_imports(store, state.settings)
        )
        with indexing:
            report = harvesting.harvest(
                store,
                state.settings,
                source=source,
                since=parse_day(since) if since else None,
                until=parse_day(until) if until else None,
                dry_run=dry_run,
                progress=lambda message: say(message, err=True),
            )
        if not report.feeds:
            say("no followed sources (add one: paperfeed sources add arxiv:cs.CL)")
            return
        say(report.summary())
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `paperfeed sources ...` and `paperfeed harvest` to the main CLI."""
    app.add_typer(sources_app, name="sources")
    app.command("harvest")(harvest)
