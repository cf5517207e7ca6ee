"""`paperfeed library ...` and `paperfeed recommend`: a reader's library from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperfeed import export, library
from paperfeed.cli.common import echo_json, opened_store, say, state
from paperfeed.dates import parse_day
from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import User, collection_json, daily_json
from paperfeed.store import Store

library_app = typer.Typer(
    help="Collections, follows and exports of a reader's library.", no_args_is_help=True
)
UserOpt = Annotated[str, typer.Option("--user", help="Email of the reader's account.")]


def _user(store: Store, email: str) -> User:
    found = store.user_credentials(email.strip())
    if found is None:
        raise NotFound(f"no account for {email!r}")
    return found[0]


@library_app.command("export")
def library_export(
    fmt: Annotated[str, typer.Option("--format", help="bibtex, ris or csv.")] = "bibtex",
    collection: Annotated[
        str | None, typer.Option(help="Collection name (or id) to export.")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Whose collection, when names clash.")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Export the results of this search.")] = None,
    daily: Annotated[
        str | None, typer.Option(help="Export the daily list of YYYY-MM-DD ('latest' ok).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Search results to export.")] = 100,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export a collection, a search or a daily list as BibTeX, RIS or CSV.

    `paperfeed library export --collection "To read" --format bibtex -o to-read.bib`
    """
    from paperfeed import daily as daily_mod

    if fmt not in export.EXPORT_FORMATS:
        raise BadRequest(f"--format must be one of {', '.join(export.EXPORT_FORMATS)}")
    if sum(x is not None for x in (collection, search, daily)) != 1:
        raise BadRequest("give exactly one of --collection, --search or --daily")
    with opened_store(existing=True) as store:
        if collection is not None:
            owner = _user(store, user) if user else None
            c = library.find_collection(store, collection, owner=owner)
            items, name = library.all_items(store, c), c.name
        elif search is not None:
            from paperfeed.search import open_search
            from paperfeed.web import searching

            service = open_search(state.settings, store, background=False)
            try:
                form = searching.make_form(search)
                items = [r.item for r in searching.search_papers(store, service, form, limit=limit)]
            finally:
                service.close()
            name = f"search-{search}"
        else:
            day = None if daily in (None, "latest") else parse_day(daily or "")
            period = daily_mod.period_or_latest(store, daily_mod.day_period(day) if day else None)
            ranked, _ = daily_mod.daily_page(store, period, limit=5000)
            items, name = [r.item for r in ranked], f"daily-{period.key}"
    out = export.export_file(items, fmt, name)
    if output is None:
        say(out.body, nl=False)
    else:
        try:
            output.write_text(out.body, encoding="utf-8")
        except OSError as exc:
            raise BadRequest(f"cannot write {output}: {exc.strerror}") from None
        say(f"wrote {len(items)} papers to {output}", err=True)


@library_app.command("list")
def library_list(
    user: UserOpt, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """A reader's collections."""

    with opened_store(existing=True) as store:
        found = store.list_collections(_user(store, user).id)
    if as_json:
        echo_json([collection_json(c) for c in found])
        return
    for c in found:
        say(f"{c.id}\t{'public' if c.public else 'private'}\t{c.paper_count}\t{c.name}")


@library_app.command("add")
def library_add(
    user: UserOpt,
    collection: Annotated[str, typer.Option(help="Collection name; made (private) if new.")],
    paper_ids: Annotated[list[str], typer.Argument(help="arXiv ids to save.")],
    public: Annotated[bool, typer.Option(help="Make a new collection public.")] = False,
) -> None:
    """Save papers into a reader's collection."""

    with opened_store() as store:
        reader = _user(store, user)
        found = store.find_collections(library.clean_name(collection), user_id=reader.id)
        c = (
            found[0]
            if found
            else library.create_collection(store, reader, collection, public=public)
        )
        added = sum(library.save_paper(store, reader, c.id, pid) for pid in paper_ids)
    say(f"saved {added} new of {len(paper_ids)} papers into {c.name!r} (id {c.id})")


@library_app.command("follow")
def library_follow(
    user: UserOpt,
    author: Annotated[str | None, typer.Option(help="Author name to follow.")] = None,
    category: Annotated[str | None, typer.Option(help="arXiv category to follow.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Unfollow instead.")] = False,
) -> None:
    """Follow (or --remove) an author or a category for a reader."""

    if (author is None) == (category is None):
        raise BadRequest("give exactly one of --author or --category")
    kind, value = ("author", author) if author is not None else ("category", category or "")
    with opened_store() as store:
        reader = _user(store, user)
        if remove:
            library.unfollow(store, reader, kind, value)
        else:
            library.follow(store, reader, kind, value)
    say(f"{'unfollowed' if remove else 'following'} {kind} {value}")


def recommend(
    user: UserOpt,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many papers.")] = 20,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: 30 days)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A reader's "for you" list, each paper with the reason it is there."""
    from paperfeed.recommend import Recommender

    with opened_store(existing=True) as store:
        search = None
        try:
            from paperfeed.search import open_search

            search = open_search(state.settings, store, background=False)
        except Exception:  # recommendations work without a search index (embedding on the fly)
            search = None
        try:
            ranked = Recommender(store, search).recommend(
                _user(store, user), limit=limit, since=parse_day(since) if since else None
            )
        finally:
            if search is not None:
                search.close()
    if as_json:
        echo_json([{**daily_json(r.item), "reason": r.reason.to_json()} for r in ranked])
        return
    for r in ranked:
        say(f"{r.item.paper.id}  {r.item.paper.title}\n    {r.reason.text}")


def register(app: typer.Typer) -> None:
    app.add_typer(library_app, name="library")
    app.command("recommend")(recommend)
