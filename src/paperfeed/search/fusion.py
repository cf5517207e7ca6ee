"""Fusion of keyword and dense scores into one ranking (a pure stage).

score(doc) = bm25(doc) / bm25(best keyword hit) + weight * cosine(query, doc)

The keyword part is scaled to [0, 1] per query so one weight works for short and long
queries; candidates found only by the vector index get 0 for it. Reciprocal-rank fusion
was measured worse (a weak ranker's ranks pull a strong one down; benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

DENSE_WEIGHT = 0.5  # default; each embedder carries its own tuned `fusion_weight`


class Fused(NamedTuple):
    """Rows best first, with their fused, keyword and dense parts."""

    rows: list[int]
    scores: list[float]
    keyword: list[float]
    dense: list[float]


def fuse(
    keyword_rows: Sequence[int],
    keyword_scores: Sequence[float],
    dense: Mapping[int, float],
    *,
    weight: float = DENSE_WEIGHT,
) -> Fused:
    """Combine BM25 hits and cosines over the union of both candidate sets."""
    top = max(keyword_scores, default=0.0) or 1.0
    kw = {row: score / top for row, score in zip(keyword_rows, keyword_scores, strict=False)}
    rows = list(dict.fromkeys([*keyword_rows, *dense]))
    parts = [(kw.get(r, 0.0), dense.get(r, 0.0)) for r in rows]
    scored = sorted(
        zip(rows, parts, strict=False),
        key=lambda item: (-(item[1][0] + weight * item[1][1]), item[0]),
    )
    return Fused(
        [r for r, _ in scored],
        [k + weight * d for _, (k, d) in scored],
        [k for _, (k, _) in scored],
        [d for _, (_, d) in scored],
    )


def reciprocal_rank(rankings: Sequence[Sequence[int]], *, k: int = 60) -> list[int]:
    """Plain RRF, kept for comparison in the relevance benchmark."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            score[row] = score.get(row, 0.0) + 1.0 / (k + rank + 1)
    return sorted(score, key=lambda r: (-score[r], r))
