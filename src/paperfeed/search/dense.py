"""The dense stage of a query: one cosine per candidate row on the transformer's scale, while
the transformer fills in behind the static vectors (pure functions over index readers).

    dense = dense_stage(static, qs, transformer, qt, keyword_rows, allowed, ...)
    dense.scores   # {row: cosine on the transformer scale}, every candidate with a vector
    dense.rows     # the nearest rows of both vector indexes, best first
    dense.scale    # "transformer", or "static" when no paper has a transformer vector yet

A paper with a transformer vector is scored by the transformer cosine. A paper without one
is scored by its static cosine mapped onto the transformer's scale: the two models' cosines
live on different scales (the static model gives unrelated papers 0.3-0.6, the transformer
0.0-0.3), so adding them raw would rank a paper by which model happened to embed it, not by
how near it is. The map is the least-squares line from static to transformer cosine, fitted
on this query's candidates that have both vectors (the same query, so the same scale), which
gives the expected transformer cosine of a paper from its static one; with too few such
candidates (early in the backfill), the line measured on pairs of papers during the backfill
(`calibration_sums`); with neither, the raw static cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from paperfeed.search.backfill import TransformerStore
    from paperfeed.search.vectors import VectorStore

DENSE_CANDIDATES = 50  # nearest rows asked from each vector index
MIN_PAIRS = 10  # candidates with both vectors needed to fit the per-query calibration


class DenseScores(NamedTuple):
    """What the dense stage hands to fusion (see the module docstring)."""

    scores: dict[int, float]
    rows: list[int]
    scale: str  # "transformer" or "static"
    filled: float  # share of scored rows that had a transformer vector


@dataclass(frozen=True, slots=True)
class Calibration:
    """transformer cosine ~= slope x static cosine + intercept."""

    slope: float
    intercept: float

    def __call__(self, cosine: float) -> float:
        return self.slope * cosine + self.intercept

    @classmethod
    def fit(cls, static: Sequence[float], transformer: Sequence[float]) -> Calibration | None:
        """The least-squares line; None for too few points, no spread, or a slope <= 0 (a
        static cosine that says nothing, or the opposite, about the transformer's)."""
        if len(static) < MIN_PAIRS:
            return None
        s = np.asarray(static, dtype=np.float64)
        t = np.asarray(transformer, dtype=np.float64)
        n = float(len(s))
        return cls.from_sums([n, float(s.sum()), float(t.sum()), float(s @ s), float(s @ t)])

    @classmethod
    def from_sums(cls, sums: Sequence[float]) -> Calibration | None:
        """From (n, sum s, sum t, sum s^2, sum s*t); None as in `fit`."""
        n, s, t, ss, st = sums
        if n < MIN_PAIRS:
            return None
        var = ss / n - (s / n) ** 2
        if var <= 1e-9:
            return None
        slope = (st / n - (s / n) * (t / n)) / var
        if slope <= 0:
            return None
        return cls(slope, t / n - slope * s / n)


def calibration_sums(static: np.ndarray, transformer: np.ndarray) -> list[float]:
    """(n, sum s, sum t, sum s^2, sum s*t) over the pairs of papers in one backfill step that
    have both vectors: s their static cosine, t their transformer cosine."""
    static = np.asarray(static, dtype=np.float32)
    transformer = np.asarray(transformer, dtype=np.float32)
    ok = np.flatnonzero(np.any(static != 0, axis=1))
    if len(ok) < 2:
        return [0.0] * 5
    s_all = static[ok] @ static[ok].T
    t_all = transformer[ok] @ transformer[ok].T
    upper = np.triu_indices(len(ok), k=1)
    s = s_all[upper].astype(np.float64)
    t = t_all[upper].astype(np.float64)
    return [float(len(s)), float(s.sum()), float(t.sum()), float(s @ s), float(s @ t)]


def dense_stage(
    static: VectorStore,
    qs: np.ndarray,
    transformer: TransformerStore | None,
    qt: np.ndarray | None,
    keyword_rows: Sequence[int],
    allowed: Callable[[list[int]], set[int]] | None = None,
    *,
    nearest: bool = True,
    k: int = DENSE_CANDIDATES,
) -> DenseScores:
    """Score the keyword candidates and the nearest rows of both vector indexes.

    `qs`/`qt` are the query's static/transformer vectors; `transformer` is None (or `qt`
    None) while no paper has a transformer vector. `allowed` keeps the nearest rows that pass
    the query's filters; `nearest=False` (a quoted phrase must match) scores only the keyword
    candidates.
    """
    use_t = transformer is not None and qt is not None
    near: list[int] = []
    if nearest:
        near = [r for r, _ in static.top(qs, k)]
        if use_t and transformer is not None and qt is not None:
            near += [r for r, _ in transformer.top(qt, k)]
        near = list(dict.fromkeys(near))
        if allowed is not None and near:
            ok = allowed(near)
            near = [r for r in near if r in ok]
    rows = list(dict.fromkeys([*keyword_rows, *near]))
    static_cos = {r: c for r, c in static.scores(rows, qs).items() if c != 0.0}
    if not use_t or transformer is None or qt is None:
        return DenseScores(static_cos, _best(near, static_cos), "static", 0.0)
    t_cos = transformer.scores(rows, qt)
    both = [r for r in t_cos if r in static_cos]
    cal = (
        Calibration.fit([static_cos[r] for r in both], [t_cos[r] for r in both])
        or transformer.calibration()
        or Calibration(1.0, 0.0)
    )
    scores = {r: t_cos[r] if r in t_cos else cal(static_cos[r]) for r in rows}
    scores = {r: v for r, v in scores.items() if r in t_cos or r in static_cos}
    filled = len(t_cos) / len(scores) if scores else 0.0
    return DenseScores(scores, _best(near, scores), "transformer", filled)


def _best(near: list[int], scores: dict[int, float]) -> list[int]:
    """The nearest rows of both indexes, best first by their score."""
    return sorted((r for r in near if r in scores), key=lambda r: (-scores[r], r))
