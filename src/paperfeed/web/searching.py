"""The web side of search: user input -> `paperfeed.search` -> stored papers to render.

The search service is `request.app.state.search` (see `paperfeed.search`); this module only
turns form/query parameters into its filters and its hits into `StoredPaper`s. Pages show
each result's whole abstract (as the reference page does) with the query's words marked.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from paperfeed.errors import BadRequest
from paperfeed.models import StoredPaper
from paperfeed.search import Filters, SearchService
from paperfeed.store import Store

MAX_QUERY = 250
MAX_RESULTS = 100
SORTS = ("relevance", "date", "upvotes")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of")
    + ("on", "or", "that", "the", "to", "with")
)


@dataclass(slots=True)
class SearchForm:
    """The search page's inputs, validated."""

    q: str = ""
    since: date | None = None
    until: date | None = None
    category: str = ""
    has_code: bool = False
    sort: str = "relevance"


def parse_date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"invalid {name} date {text!r}: expected YYYY-MM-DD") from None


def make_form(
    q: str | None,
    *,
    since: str | None = None,
    until: str | None = None,
    category: str | None = None,
    has_code: bool = False,
    sort: str | None = None,
) -> SearchForm:
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        raise BadRequest(f"queries are limited to {MAX_QUERY} characters")
    sort = sort or "relevance"
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    return SearchForm(
        q=q,
        since=parse_date(since, "from"),
        until=parse_date(until, "to"),
        category=(category or "").strip()[:40],
        has_code=has_code,
        sort=sort,
    )


def highlight_terms(q: str) -> list[str]:
    """Words of the query to mark in titles and abstracts."""
    return [w for w in _WORD.findall(q.lower()) if w not in _STOP]


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


class ResultCache:
    """Paper ids of recent searches, valid until the catalogue changes (store change seq).

    Only ids are kept: papers are read fresh on every request so upvote and comment counts
    stay current. The lock guards only the cache itself: searches run concurrently (the search
    service is thread-safe), so a miss computed twice at once just stores the same ids twice.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.lock = threading.Lock()
        self._entries: OrderedDict[tuple, list[str]] = OrderedDict()

    def ids(self, key: tuple, compute: Callable[[], list[str]]) -> list[str]:
        with self.lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        found = compute()
        with self.lock:
            self._entries[key] = found
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return found


_CACHES: weakref.WeakKeyDictionary[SearchService, ResultCache] = weakref.WeakKeyDictionary()


def _cache(search: SearchService) -> ResultCache:
    cache = _CACHES.get(search)
    if cache is None:
        cache = _CACHES[search] = ResultCache()
    return cache


def search_papers(
    store: Store, search: SearchService, form: SearchForm, *, limit: int
) -> list[Result]:
    """Best-first results for the form's query and filters."""
    if not form.q:
        raise BadRequest("enter a search query")
    key = (
        "search",
        form.q,
        form.since,
        form.until,
        form.category,
        form.has_code,
        form.sort,
        limit,
        store.last_seq(),
    )

    def compute() -> list[str]:
        hits = search.search(
            form.q, limit=limit, filters=_filters(form), sort=form.sort, with_papers=False
        )
        return [hit.paper_id for hit in hits]

    ids = _cache(search).ids(key, compute)
    return [Result(item) for item in store.get_papers(ids)]


def similar_papers(
    store: Store, search: SearchService | None, paper_id: str, *, limit: int
) -> list[StoredPaper]:
    if search is None:
        return []

    def compute() -> list[str]:
        return [h.paper_id for h in search.similar(paper_id, limit=limit)]

    ids = _cache(search).ids(("similar", paper_id, limit, store.last_seq()), compute)
    return store.get_papers([i for i in ids if i != paper_id])
