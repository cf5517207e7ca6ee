"""The web side of search: user input -> `paperfeed.search` -> stored papers to render.

The search service is `request.app.state.search` (see `paperfeed.search`); this module only
turns form/query parameters into its filters and its hits into `StoredPaper`s. Pages show
each result's whole abstract (as the reference page does) with the query's words marked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from paperfeed.dates import parse_day
from paperfeed.errors import BadRequest
from paperfeed.inputs import check_text
from paperfeed.models import StoredPaper
from paperfeed.search import MAX_QUERY_CHARS, SORTS, Filters, SearchService, parse_query
from paperfeed.store import Store

log = logging.getLogger(__name__)

MAX_RESULTS = 100


@dataclass(slots=True)
class SearchForm:
    """The search page's inputs, validated."""

    q: str = ""
    since: date | None = None
    until: date | None = None
    category: str = ""
    has_code: bool = False
    sort: str = "relevance"


def make_form(
    q: str | None,
    *,
    since: str | None = None,
    until: str | None = None,
    category: str | None = None,
    has_code: bool = False,
    sort: str | None = None,
) -> SearchForm:
    q = check_text((q or "").strip(), "the query")
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"queries are limited to {MAX_QUERY_CHARS} characters")
    sort = sort or "relevance"
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    return SearchForm(
        q=q,
        since=parse_day(since, "from date") if since else None,
        until=parse_day(until, "to date") if until else None,
        category=check_text((category or "").strip()[:40], "the category"),
        has_code=has_code,
        sort=sort,
    )


def export_query(form: SearchForm) -> str:
    """The query string of this search's feeds and exports: the query and the filters they
    take (dates, category, has code, sort), so a filtered page exports what it shows."""
    params = {"q": form.q}
    if form.since:
        params["since"] = form.since.isoformat()
    if form.until:
        params["until"] = form.until.isoformat()
    if form.category:
        params["category"] = form.category
    if form.has_code:
        params["has_code"] = "1"
    if form.sort != "relevance":
        params["sort"] = form.sort
    return urlencode(params)


def highlight_terms(q: str) -> frozenset[str]:
    """The index terms the engine matches for `q` (stemmed, stop words dropped)."""
    return frozenset(parse_query(q[:MAX_QUERY_CHARS]).all_terms)


@dataclass(slots=True)
class Result:
    item: StoredPaper
    score: float | None = None


def _filters(form: SearchForm) -> Filters:
    return Filters(
        since=form.since,
        until=form.until,
        categories=(form.category,) if form.category else (),
        has_code=True if form.has_code else None,
    )


@dataclass(slots=True)
class Found:
    """One search's papers (best first, or in the asked order) and how it went."""

    results: list[Result]
    close: bool = True  # False: nothing matched; the results are only the nearest papers
    total: int | None = None  # papers matching the words (sort=date/upvotes)
    terms: frozenset[str] = frozenset()  # what the engine matched (for highlighting)


def find(
    store: Store, search: SearchService, form: SearchForm, *, limit: int, seq: int | None = None
) -> Found:
    """Results for the form's query and filters, with the no-close-match flag (`seq`: the
    store's change sequence if already read for this request, `SearchService.search`)."""
    if not form.q:
        raise BadRequest("enter a search query")
    ranked = search.search(
        form.q, limit=limit, filters=_filters(form), sort=form.sort, with_papers=False, seq=seq
    )  # (cached by the search service; papers are read fresh)
    results = [Result(item) for item in store.get_papers(ranked.ids)]
    return Found(results, ranked.close, ranked.total, ranked.terms)


def search_papers(
    store: Store, search: SearchService, form: SearchForm, *, limit: int
) -> list[Result]:
    """Best-first results for the form's query and filters."""
    return find(store, search, form, limit=limit).results


def similar_papers(
    store: Store, search: SearchService | None, paper_id: str, *, limit: int
) -> list[StoredPaper]:
    """Papers like `paper_id`; [] (logged) when that fails: a paper page never fails
    because of its "similar papers" list (e.g. a damaged vector index)."""
    if search is None:
        return []
    try:
        found = search.similar(paper_id, limit=limit)
    except Exception:
        log.exception("similar papers for %s failed", paper_id)
        return []
    return [h.paper for h in found if h.paper is not None]
