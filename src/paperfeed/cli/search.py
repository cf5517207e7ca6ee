"""`paperfeed search`, `paperfeed eval` and `paperfeed index`: thin over `paperfeed.search`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from paperfeed.cli.common import opened_store, say, state
from paperfeed.dates import parse_day
from paperfeed.errors import BadRequest
from paperfeed.models import StoredPaper, daily_json
from paperfeed.progress import Progress
from paperfeed.search import SORTS, Filters, Hit, SearchService, evaluate, read_queries
from paperfeed.search.evaluate import is_header, read_lines
from paperfeed.search.results import BackfillProgress
from paperfeed.store import Store


def _service(store: Store, *, background: bool = False) -> SearchService:
    return SearchService(store, state.settings, background=background)


def with_papers(results: Iterable[Hit]) -> list[tuple[Hit, StoredPaper]]:
    """Each hit with its paper (the searches here always ask for papers)."""
    return [(hit, hit.paper) for hit in results if hit.paper is not None]


def hit_json(hit: Hit, item: StoredPaper) -> dict[str, Any]:
    """One result in the Hugging Face `/api/papers/search` shape, plus our score parts."""
    return {
        **daily_json(item),  # the same item shape as GET /api/papers/search
        "score": round(hit.score, 4),
        "highlightedSummary": hit.snippet_html,
    }


def search(
    query: Annotated[
        str | None, typer.Argument(help="What to look for (quotes for phrases).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="How many results.")
    ] = 10,
    batch: Annotated[
        Path | None,
        typer.Option("--batch", help="TSV of queries (first column); one JSON line each."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (HF Papers shape).")] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Published on or after YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Published on or before YYYY-MM-DD.")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="arXiv category (repeatable).")
    ] = None,
    has_code: Annotated[
        bool, typer.Option("--has-code", help="Only papers with a code link.")
    ] = False,
    sort: Annotated[str, typer.Option("--sort", help=", ".join(SORTS) + ".")] = "relevance",
) -> None:
    """Search papers by keyword and by meaning."""
    filters = Filters(
        since=parse_day(since, "--since date") if since else None,
        until=parse_day(until, "--until date") if until else None,
        categories=tuple(category or ()),
        has_code=True if has_code else None,
    )
    if filters.since and filters.until and filters.since > filters.until:
        # no paper could match: say so rather than "No results." (as harvest does)
        raise BadRequest(f"--since {since} must not be after --until {until}")
    if batch is None and query is None:
        raise BadRequest("give a QUERY or --batch QUERIES.tsv")
    with opened_store(existing=True) as store:
        service = _service(store)
        try:
            if batch is not None:
                for q in _batch_queries(batch):
                    results = service.search(q, limit=limit, filters=filters, sort=sort)
                    say(
                        json.dumps(
                            {
                                "query": q,
                                "results": [hit_json(h, i) for h, i in with_papers(results)],
                            },
                            ensure_ascii=False,
                        )
                    )
                return
            results = service.search(query or "", limit=limit, filters=filters, sort=sort)
            if as_json:
                say(
                    json.dumps(
                        [hit_json(h, i) for h, i in with_papers(results)], ensure_ascii=False
                    )
                )
                return
            if results.mode == "keyword" and results.vectors_pending:
                say(
                    f"(keyword only: {results.vectors_pending} papers still being embedded)",
                    err=True,
                )
            if not results.hits:
                say("No results.")
            elif not results.close:
                say("(no close matches; nearest shown)", err=True)
            if results.total is not None:
                say(f"({results.total} papers match, ordered by {sort})", err=True)
            for hit, item in with_papers(results):
                p = item.paper
                day = p.day.isoformat() if p.day else "-"
                say(f"{p.id:>16}  {day}  {hit.score:5.2f}  {p.title}")
        finally:
            service.close()


def _batch_queries(path: Path) -> list[str]:
    """The first column of every line (the rest, such as eval's target id, is ignored)."""
    lines = enumerate(read_lines(path), 1)
    return [q for n, line in lines if (q := line.split("\t")[0]).strip() and not is_header(n, line)]


def eval_command(
    queries: Annotated[Path, typer.Argument(help="TSV: query<TAB>arxiv_id per line.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """MRR@10 and Recall@10 of this instance's search on known-item queries."""
    pairs = read_queries(queries)
    with opened_store(existing=True) as store:
        service = _service(store)
        try:
            report = evaluate(
                lambda q: [h.paper_id for h in service.search(q, limit=10, with_papers=False)],
                pairs,
            )
        finally:
            service.close()
    if as_json:
        say(json.dumps(report.to_json()))
    else:
        say(
            f"queries {report.queries}  MRR@10 {report.mrr_at_10:.3f}  "
            f"Recall@10 {report.recall_at_10:.3f}"
        )


def index(
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Rebuild every index from the store, the transformer's included; blocks "
            "until all are complete.",
        ),
    ] = False,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="Catch every index up now, the transformer's included (newest papers first; "
            "a killed run resumes where it was); blocks until done.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show what the search indexes still have to catch up on, and the transformer backfill's
    progress, rate and ETA (or catch them up, or rebuild them)."""
    with opened_store(existing=not (rebuild or catch_up)) as store:
        service = SearchService(store, state.settings, background=False, repair=False)
        try:
            progress = Progress()
            if rebuild:
                service.rebuild(progress=progress.phase)
            elif catch_up:
                service.repair()
                service.sync_vectors(progress=progress.phase)
                service.sync_transformer(progress=progress.phase)
            progress.finish()
            status = service.status(checksums=True)
        finally:
            service.close()
    if as_json:
        say(json.dumps(status.to_json()))
        return
    say(f"store change sequence   {status.store_seq}")
    say(f"keyword index           {status.papers_indexed} papers, {status.keyword_pending} pending")
    say(
        f"vector index ({status.embedder})  {status.vectors} papers, "
        f"{status.vectors_pending} pending"
    )
    if status.transformer is not None:
        say(transformer_line(status.transformer))
    for name, why in status.damaged.items():
        say(
            f"damaged: {name} index: {why} (rebuilt at the next start of the service, "
            "or now with `paperfeed index --sync`)"
        )


def transformer_line(p: BackfillProgress) -> str:
    """The transformer backfill in one line: done, share, rate and ETA."""
    if not p.model:
        return "transformer             off (static vectors only; PAPERFEED_TRANSFORMER)"
    line = f"transformer ({p.model})  {p.done} of {p.total} papers ({100 * p.share:.1f}%)"
    if p.pending and p.active:
        line += f", {p.rate:.1f} papers/s"
        if p.eta_text:
            line += f", {p.eta_text}"
    elif p.pending:
        line += f", {p.pending} pending (filled by `paperfeed serve`, `worker` or `index --sync`)"
    return line


def similar(
    paper_id: Annotated[str, typer.Argument(help="arXiv id of a paper in the catalogue.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="How many.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (HF Papers shape).")] = False,
) -> None:
    """Papers closest in meaning to a paper."""
    with opened_store(existing=True) as store:
        service = _service(store)
        try:
            results = service.similar(paper_id, limit=limit)
        finally:
            service.close()
    if as_json:
        say(json.dumps([hit_json(h, i) for h, i in with_papers(results)], ensure_ascii=False))
        return
    for hit, item in with_papers(results):
        say(f"{hit.paper_id:>16}  {hit.score:5.2f}  {item.paper.title}")


def register(app: typer.Typer) -> None:
    """Add the search commands to the main CLI."""
    app.command("search")(search)
    app.command("eval")(eval_command)
    app.command("index")(index)
    app.command("similar")(similar)
