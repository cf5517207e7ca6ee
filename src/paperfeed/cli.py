"""The `paperfeed` command: the same services as the web app, from a terminal or cron.

Each command only parses its arguments and calls a service function; errors from the
`PaperfeedError` family become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from paperfeed.errors import BadRequest, NotFound, PaperfeedError
from paperfeed.models import paper_json
from paperfeed.settings import Settings, load_settings
from paperfeed.store import Store, open_store


class ErrorsAsMessages(TyperGroup):
    """Turns our exceptions into one `Error: ...` line on stderr and a non-zero exit."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(2 if exc.status_code == 400 else 1) from None


app = typer.Typer(
    cls=ErrorsAsMessages,
    help="paperfeed: research-paper discovery (daily lists, trending, search).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
papers_app = typer.Typer(help="Look at papers in the catalogue.", no_args_is_help=True)
app.add_typer(papers_app, name="papers")


class State:
    """Global options, resolved lazily into settings and a store."""

    data_dir: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(data_dir=self.data_dir)
        return self._settings


state = State()


@app.callback()
def _global(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Data directory (default: $PAPERFEED_DATA_DIR, else a per-user directory).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    state.data_dir = data_dir
    state._settings = None
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@contextmanager
def opened_store() -> Iterator[Store]:
    store = open_store(state.settings)
    try:
        yield store
    finally:
        store.close()


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"invalid date {text!r}: expected YYYY-MM-DD") from None


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="Files or URLs to import.")],
    batch_size: Annotated[int, typer.Option(help="Papers per committed batch.")] = 5000,
    limit: Annotated[int | None, typer.Option(help="Stop after this many records.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Parse and report, write nothing.")
    ] = False,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Do not update the keyword index now.")
    ] = False,
) -> None:
    """Import papers from JSONL(.gz), arXiv API/OAI-PMH/RSS XML or HF daily_papers JSON."""
    from paperfeed.ingest import ingest_sources
    from paperfeed.ingest.progress import terminal_progress

    with opened_store() as store:
        report = ingest_sources(
            store,
            sources,
            batch_size=batch_size,
            limit=limit,
            dry_run=dry_run,
            progress=terminal_progress(),
        )
        for problem in report.problems:
            prefix = "Error" if problem in report.failed_sources else "rejected"
            typer.echo(f"{prefix}: {problem}", err=True)
        typer.echo(report.summary())
        if not dry_run and not no_index:
            after_ingest(store)
        if report.failed_sources:
            raise typer.Exit(1)


def after_ingest(store: Store) -> None:
    """Make new papers findable by keyword at once (the search package hooks in here)."""
    try:
        from paperfeed.search import sync_keyword_index
    except ImportError:
        return
    sync_keyword_index(store, state.settings)


@papers_app.command("show")
def papers_show(
    paper_id: Annotated[str, typer.Argument(help="arXiv id, with or without version.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one paper."""
    from paperfeed.ingest.ids import normalize_arxiv_id

    try:
        canonical, _ = normalize_arxiv_id(paper_id)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    with opened_store() as store:
        item = store.get_paper(canonical)
    if item is None:
        raise NotFound(f"no paper {paper_id!r} in the catalogue")
    if as_json:
        echo_json(paper_json(item))
        return
    p = item.paper
    typer.echo(f"{p.id}v{p.version}  {p.title}")
    typer.echo(", ".join(p.authors))
    cats = " ".join(p.categories) or "-"
    typer.echo(f"published {p.published or '-'}  categories {cats}  upvotes {item.upvotes}")
    for label, value in (("code", p.github_url), ("project", p.project_page), ("doi", p.doi)):
        if value:
            typer.echo(f"{label}: {value}")
    typer.echo("")
    typer.echo(p.abstract)


@papers_app.command("list")
def papers_list(
    day: Annotated[str | None, typer.Option(help="Day YYYY-MM-DD (default: latest).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the daily papers of one day."""
    with opened_store() as store:
        when = parse_day(day) if day else store.latest_daily_day()
        items = store.daily_list(start=when, end=when, limit=limit) if when else []
    if as_json:
        echo_json([paper_json(i) for i in items])
        return
    if not items:
        typer.echo(f"no daily papers for {when or 'any day'}")
        return
    typer.echo(f"Daily papers for {when}:")
    for i in items:
        typer.echo(f"{i.upvotes:>5}  {i.paper.id:<16} {i.paper.title}")


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts of papers, daily entries and categories."""
    with opened_store() as store:
        s = store.stats()
    data = {
        "papers": s.papers,
        "dailyEntries": s.daily_entries,
        "firstDailyDay": s.first_daily_day and s.first_daily_day.isoformat(),
        "lastDailyDay": s.last_daily_day and s.last_daily_day.isoformat(),
        "changeSeq": s.last_seq,
        "topCategories": s.categories,
    }
    if as_json:
        echo_json(data)
        return
    typer.echo(f"data dir      {state.settings.data_dir}")
    typer.echo(f"papers        {s.papers}")
    typer.echo(f"daily entries {s.daily_entries} ({s.first_daily_day} .. {s.last_daily_day})")
    for cat, n in s.categories.items():
        typer.echo(f"  {cat:<20} {n}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_sample: Annotated[
        bool, typer.Option("--no-sample", help="Do not load the bundled sample corpus.")
    ] = False,
) -> None:
    """Start the web app (loads the bundled sample on an empty data directory)."""
    import uvicorn

    from paperfeed.web.app import create_app

    settings = state.settings
    if not no_sample:
        with opened_store() as store:
            if store.stats().papers == 0:
                from paperfeed.sample import load_sample

                typer.echo(f"Empty catalogue in {settings.data_dir}: loading the bundled sample…")
                report = load_sample(store)
                typer.echo(report.summary())
                after_ingest(store)
    typer.echo(f"paperfeed serving on http://{host}:{port}/  (data: {settings.data_dir})")
    from paperfeed.digest import start_scheduler

    start_scheduler(settings, open_store(settings))  # daily digests at settings.digest_time
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def register_optional_commands() -> None:
    """Add the command groups of the feature packages (search, accounts, digest)."""
    import importlib

    for module in ("paperfeed.cli_search", "paperfeed.cli_web", "paperfeed.cli_digest"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        mod.register(app)


register_optional_commands()


def main() -> None:
    """Console-script entry point."""
    app()
