"""Search: keyword (tantivy) + meaning (embeddings, usearch) fused into one ranking.

Everything here is derived from the store and rebuildable. The public surface:

- `SearchService(store, settings)` / `open_search(settings, store)`: `.search(query, *,
  limit, filters, sort) -> SearchResults`, `.similar(paper_id, *, limit)`, `.status()`
  (with the transformer backfill's progress), `.sync_transformer(...)`,
  `.rebuild(progress=...)`, `.close()`; see `paperfeed.search.service`. It joins the
  `Indexer` (`search/indexer.py`: index state, lock, sync, repair, worker) and the query
  pipeline of pure stages (`search/pipeline.py`), and caches rankings (`search/cache.py`)
  for every caller: pages, API, feeds and digests. Progressive indexing: keyword at once,
  static vectors next, a transformer filling a second vector index behind them, newest
  papers first (`search/backfill.py`); queries score on the transformer's scale while it
  fills (`search/dense.py`).
- `Filters(since, until, categories, has_code)`: result restrictions.
- `sync_keyword_index(store, settings)`: called right after an ingest.
- `evaluate(service, pairs)`: MRR@10 / Recall@10 of the instance's own search.
"""

from paperfeed.search.cache import ResultCache
from paperfeed.search.evaluate import EvalReport, evaluate, read_queries
from paperfeed.search.indexer import Indexer, sync_keyword_index
from paperfeed.search.keyword import MAX_QUERY_CHARS, Filters, parse_query
from paperfeed.search.pipeline import SORTS, Sort
from paperfeed.search.results import Hit, IndexStatus, SearchResults
from paperfeed.search.service import SearchService, open_search

__all__ = [
    "MAX_QUERY_CHARS",
    "SORTS",
    "EvalReport",
    "Filters",
    "Hit",
    "IndexStatus",
    "Indexer",
    "SearchResults",
    "SearchService",
    "Sort",
    "evaluate",
    "open_search",
    "parse_query",
    "read_queries",
    "ResultCache",
    "sync_keyword_index",
]
