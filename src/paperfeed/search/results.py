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
class BackfillProgress:
    """How far the transformer has got: for `paperfeed index` and /admin/search."""

    model: str  # '' when the transformer is off
    done: int  # papers with a transformer vector (or nothing to embed)
    total: int  # papers in the catalogue
    rate: float  # papers/s of the last run
    eta_s: float | None  # seconds left at that rate, while a run is going on
    active: bool  # a backfill took a step within the last two minutes

    @property
    def off(self) -> bool:
        """The transformer is turned off (PAPERFEED_TRANSFORMER=off, EMBEDDER=static) or
        cannot run here: nothing is pending, nothing will be filled."""
        return not self.model

    @property
    def pending(self) -> int:
        return 0 if self.off else max(self.total - self.done, 0)

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def eta_text(self) -> str:
        """'about 12 min left' ('' when no run is going on), for the CLI and the admin page."""
        return f"about {duration_text(self.eta_s)} left" if self.eta_s is not None else ""


def duration_text(seconds: float) -> str:
    """'45 s', '12 min', '3 h 05 min'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


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
    transformer: BackfillProgress | None = None  # the transformer backfill (None: not asked)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        if self.transformer is not None:
            out["transformer"] = {
                **asdict(self.transformer),
                "off": self.transformer.off,
                "pending": self.transformer.pending,
                "share": round(self.transformer.share, 4),
            }
        return out
