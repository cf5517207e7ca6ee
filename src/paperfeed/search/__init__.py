"""Search: keyword (tantivy) + meaning (embeddings, usearch) fused into one ranking.

Everything here is derived from the store and rebuildable. The public surface:

- `SearchService(store, settings)` / `open_search(settings, store)`: `.search(query, *,
  limit, filters, sort) -> SearchResults`, `.similar(paper_id, *, limit)`, `.status()`,
  `.rebuild(progress=...)`, `.close()`; see `paperfeed.search.service`.
- `Filters(since, until, categories, has_code)`: result restrictions.
- `sync_keyword_index(store, settings)`: called right after an ingest.
- `evaluate(service, pairs)`: MRR@10 / Recall@10 of the instance's own search.
"""

from paperfeed.search.evaluate import EvalReport, evaluate, read_queries
from paperfeed.search.keyword import Filters, parse_query
from paperfeed.search.service import (
    Hit,
    IndexStatus,
    SearchResults,
    SearchService,
    open_search,
    sync_keyword_index,
)

__all__ = [
    "EvalReport",
    "Filters",
    "Hit",
    "IndexStatus",
    "SearchResults",
    "SearchService",
    "evaluate",
    "open_search",
    "parse_query",
    "read_queries",
    "sync_keyword_index",
]
