"""The small typed records search hands out: hits, result lists, index status."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

from paperfeed.models import StoredPaper
from paperfeed.search.snippets import Span, to_html


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: the paper, its score parts, and a highlighted snippet of its abstract."""

    paper_id: str
    score: float
    keyword: float = 0.0
    dense: float = 0.0
    paper: StoredPaper | None = None
    snippet: tuple[Span, ...] = ()

    @property
    def snippet_html(self) -> str:
        """Escaped HTML with matched words in <mark> (safe to insert as markup)."""
        return to_html(self.snippet)


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Hits best first (iterate over it), plus how the query was answered.

    `close` is False when nothing matched the query's words and no paper is near it in
    meaning either: the hits are then only the nearest papers, not matches (say so).
    `terms` are the index terms the engine matched on (for highlighting).
    """

    query: str
    hits: list[Hit]
    mode: str  # "hybrid", "keyword" (no vectors yet) or "meaning" (no keyword terms)
    vectors_pending: int = 0
    close: bool = True
    terms: frozenset[str] = frozenset()
    total: int | None = None  # how many papers match the words (sort=date/upvotes)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def ids(self) -> list[str]:
        return [h.paper_id for h in self.hits]

    def with_hits(self, hits: list[Hit]) -> SearchResults:
        return replace(self, hits=hits)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    store_seq: int
    keyword_seq: int
    vector_seq: int
    keyword_pending: int
    vectors_pending: int
    papers_indexed: int
    vectors: int
    embedder: str
    damaged: dict[str, str] = field(default_factory=dict)  # index -> what is wrong with it

    def to_json(self) -> dict[str, object]:
        return asdict(self)
