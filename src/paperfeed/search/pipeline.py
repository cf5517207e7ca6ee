"""The query pipeline: small stages from a query's text to ranked paper ids.

    req = make_request(text, limit=10, filters=None, sort="relevance")  # validate, tokenize
    kw = keyword_stage(keyword_index, req)                  # BM25 top 100, filters in index
    dense = dense_stage(...)                               # cosines + nearest rows (dense.py)
    fused = fuse(kw.rows, kw.scores, dense.scores, weight=w, ideal=i, min_cover=c, soft=s)
    fused = coverage_stage(fused, req, idf, terms, weights)  # re-rank the top 20 by coverage
    ranked = top_k(fused, paper_id, limit)                 # -> [Ranked], best first

Every stage is a function of its arguments (index readers are passed in, nothing is
written), so each can be tested and benchmarked alone; `SearchService.search` strings them
together and adds papers and snippets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from paperfeed.errors import BadRequest
from paperfeed.search.fusion import Fused, coverage_features, rerank_coverage
from paperfeed.search.keyword import (
    MAX_QUERY_CHARS,
    Filters,
    KeywordHits,
    KeywordIndex,
    ParsedQuery,
    parse_query,
)

Sort = Literal["relevance", "date", "upvotes"]
SORTS: tuple[str, ...] = ("relevance", "date", "upvotes")
KEYWORD_CANDIDATES = 100
COVERAGE_TOP = 20  # the fused top N that the coverage stage re-ranks
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A validated query: its text, index terms and phrases, and what to return."""

    text: str
    parsed: ParsedQuery
    limit: int
    filters: Filters | None
    sort: str

    @property
    def wants_meaning(self) -> bool:
        """Whether the text has anything an embedder can read (not only punctuation)."""
        return any(ch.isalnum() for ch in self.text)


@dataclass(frozen=True, slots=True)
class Ranked:
    """One ranked paper: id and score parts (no paper record: callers read those fresh)."""

    paper_id: str
    score: float
    keyword: float = 0.0
    dense: float = 0.0


def make_request(
    query: str, *, limit: int = 10, filters: Filters | None = None, sort: str = "relevance"
) -> SearchRequest:
    """Validate and tokenize; raises BadRequest for an empty query or a bad sort."""
    text = (query or "").strip()[:MAX_QUERY_CHARS]
    if not text:
        raise BadRequest("empty query: type a few words to search for")
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    return SearchRequest(text, parse_query(text), limit, filters or None, sort)


def keyword_stage(index: KeywordIndex, req: SearchRequest) -> KeywordHits:
    """BM25 candidates (at least `KEYWORD_CANDIDATES`), filters applied in the index."""
    return index.search(req.parsed, limit=max(KEYWORD_CANDIDATES, req.limit), filters=req.filters)


def coverage_stage(
    fused: Fused,
    req: SearchRequest,
    idf: Mapping[str, float],
    terms: Mapping[int, Sequence[str]],
    weights: tuple[float, float],
) -> Fused:
    """Re-rank the rows in `terms` (the fused top N) by how much of the query they cover;
    `terms` are each row's index terms (title, then abstract), as `analyze` gives them or as
    `paperfeed.search.snippets.Matched.terms`."""
    cover_w, bigram_w = weights
    if not terms or not (cover_w or bigram_w):
        return fused
    features = {r: coverage_features(req.parsed.terms, idf, t) for r, t in terms.items()}
    return rerank_coverage(fused, features, cover_weight=cover_w, bigram_weight=bigram_w)


def idf_of(index: KeywordIndex, terms: Sequence[str]) -> dict[str, float]:
    """log(N / (1 + document frequency)) of each term in the text field."""
    searcher = index.searcher
    n_docs = max(int(searcher.num_docs), 1)
    return {t: float(np.log(n_docs / (1 + searcher.doc_freq("text", t)))) for t in terms}


def is_close(kw: KeywordHits, dense: Mapping[int, float], embedder: object) -> bool:
    """Whether anything really matched: a paper has one of the query's words, or (for an
    embedder that can tell, one with a `close_cosine`) a paper is that near in meaning.

    The bundled static model cannot tell: it gives gibberish ("xqzvw") nearest papers at
    cosines as high as real queries get (0.5-0.6, measured), so with it only words count.
    """
    if kw.rows:
        return True
    threshold = getattr(embedder, "close_cosine", None)
    return threshold is not None and max(dense.values(), default=0.0) >= threshold


def top_k(fused: Fused, paper_id: Callable[[int], str], limit: int | None) -> list[Ranked]:
    """Rows -> ranked paper ids, best first, dropping rows not (yet) known to this process."""
    out = []
    for r, score, k, d in zip(fused.rows, fused.scores, fused.keyword, fused.dense, strict=False):
        pid = paper_id(r)
        if pid:
            out.append(Ranked(pid, score, k, d))
            if limit is not None and len(out) >= limit:
                break
    return out
