"""`paperfeed ingest`, `paperfeed papers ...` and `paperfeed stats`: the catalogue."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Annotated

import typer

from paperfeed.cli.common import echo_json, opened_store, say, state
from paperfeed.dates import parse_day
from paperfeed.errors import BadRequest, NotFound
from paperfeed.ingest import ingest_sources
from paperfeed.ingest.ids import normalize_arxiv_id
from paperfeed.models import paper_json
from paperfeed.progress import Progress
from paperfeed.search.follow import following_imports

papers_app = typer.Typer(help="Look at papers in the catalogue.", no_args_is_help=True)


def ingest(
    sources: Annotated[list[str], typer.Argument(help="Files or URLs to import.")],
    batch_size: Annotated[int, typer.Option(min=1, help="Papers per committed batch.")] = 5000,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many records.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Parse and report, write nothing.")
    ] = False,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Do not update the keyword index now.")
    ] = False,
) -> None:
    """Import papers from JSONL(.gz), arXiv API/OAI-PMH/RSS XML or HF daily_papers JSON."""
    with opened_store() as store:
        # The keyword index is built beside the import and complete when it returns.
        indexing: AbstractContextManager[None] = (
            nullcontext() if dry_run or no_index else following_imports(store, state.settings)
        )
        with indexing:
            report = ingest_sources(
                store,
                sources,
                batch_size=batch_size,
                limit=limit,
                dry_run=dry_run,
                progress=Progress(),
            )
        for problem in report.problems:
            prefix = "Error" if problem in report.failed_sources else "rejected"
            say(f"{prefix}: {problem}", err=True)
        for problem in report.dropped:
            say(f"kept the paper without a field: {problem}", err=True)
        say(report.summary())
        if report.failed_sources:
            raise typer.Exit(1)


@papers_app.command("show")
def papers_show(
    paper_id: Annotated[str, typer.Argument(help="arXiv id, with or without version.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one paper."""
    try:
        canonical, _ = normalize_arxiv_id(paper_id)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    with opened_store(existing=True) as store:
        item = store.get_paper(canonical)
    if item is None:
        raise NotFound(f"no paper {paper_id!r} in the catalogue")
    if as_json:
        echo_json(paper_json(item))
        return
    p = item.paper
    say(f"{p.id}v{p.version}  {p.title}")
    say(", ".join(p.authors))
    cats = " ".join(p.categories) or "-"
    say(f"published {p.published or '-'}  categories {cats}  upvotes {item.upvotes}")
    for label, value in (("code", p.code_url), ("project", p.project_url), ("doi", p.doi)):
        if value:
            say(f"{label}: {value}")
    say("")
    say(p.abstract)


@papers_app.command("list")
def papers_list(
    day: Annotated[str | None, typer.Option(help="Day YYYY-MM-DD (default: latest).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the daily papers of one day."""
    asked = parse_day(day) if day else None
    with opened_store(existing=True) as store:
        when = asked or store.latest_daily_day()
        items = store.daily_list(start=when, end=when, limit=limit) if when else []
    if as_json:
        echo_json([paper_json(i) for i in items])
        return
    if not items:
        say(f"no daily papers for {when or 'any day'}")
        return
    say(f"Daily papers for {when}:")
    for i in items:
        say(f"{i.upvotes:>5}  {i.paper.id:<16} {i.paper.title}")


def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts of papers, daily entries and categories."""
    with opened_store(existing=True) as store:
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
    say(f"data dir      {state.settings.data_dir}")
    say(f"papers        {s.papers}")
    say(f"daily entries {s.daily_entries} ({s.first_daily_day} .. {s.last_daily_day})")
    for cat, n in s.categories.items():
        say(f"  {cat:<20} {n}")


def register(app: typer.Typer) -> None:
    """Add the catalogue commands to the main CLI."""
    app.command()(ingest)
    app.add_typer(papers_app, name="papers")
    app.command()(stats)
