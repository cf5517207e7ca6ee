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

Nearest rows. Each vector index gives its `k` nearest rows. Once at most `EXACT_BELOW` papers
wait for their transformer vector (the usual state of a running service: only the newest
papers, for seconds to minutes), the static model's ANN index is neither searched nor loaded:
the papers that have a transformer vector come from the transformer's index, and the waiting
papers from an exact static-cosine scan of just their rows. The static ANN's neighbours of a
filled paper would only be rescored by the transformer cosine, from a model that ranks worse
(static MRR@10 0.24 alone), at the cost of its index in memory (~630 MiB at 1M papers) and a
second search per query. With no paper waiting, no static vector (not even the query's) is
needed at all.

Nearest papers to a vector (`nearest_papers`): the same stage without keyword candidates, for
"similar papers" (one paper's vectors) and "more like this collection" (the mean of its
papers' vectors), asking both indexes for more rows until enough lie outside the papers the
caller leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from paperfeed.search.vectors import EXACT_BELOW

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
    qs: np.ndarray | Callable[[], np.ndarray],
    transformer: TransformerStore | None,
    qt: np.ndarray | None,
    keyword_rows: Sequence[int],
    allowed: Callable[[list[int]], set[int]] | None = None,
    *,
    nearest: bool = True,
    k: int = DENSE_CANDIDATES,
) -> DenseScores:
    """Score the keyword candidates and the nearest rows of both vector indexes.

    `qs`/`qt` are the query's static/transformer vectors (`qs` may be a function that makes
    it: with the transformer complete it is not needed); `transformer` is None (or `qt` None)
    while no paper has a transformer vector. `allowed` keeps the nearest rows that pass the
    query's filters; `nearest=False` (a quoted phrase must match) scores only the keyword
    candidates.
    """
    static_q: list[np.ndarray] = []

    def query_static() -> np.ndarray:
        if not static_q:
            static_q.append(qs() if callable(qs) else qs)
        return static_q[0]

    if transformer is None or qt is None:
        return _static_only(static, query_static(), keyword_rows, allowed, nearest=nearest, k=k)
    waiting, _ = transformer.waiting(static, with_vectors=False)
    static_ann = len(waiting) > EXACT_BELOW  # too many to scan: the static ANN (see above)
    near: list[int] = []
    if nearest:
        if static_ann:
            near = [r for r, _ in static.top(query_static(), k)]
        elif len(waiting):
            waiting, matrix = transformer.waiting(static, with_vectors=True)
            assert matrix is not None
            sims = matrix @ query_static()
            best = np.argsort(-sims)[:k]
            near = [int(waiting[i]) for i in best if sims[i] != 0]
        near += [r for r, _ in transformer.top(qt, k)]
        near = _allowed(list(dict.fromkeys(near)), allowed)
    rows = list(dict.fromkeys([*keyword_rows, *near]))
    t_cos = transformer.scores(rows, qt)
    if len(t_cos) == len(rows):  # every candidate has its transformer vector
        return DenseScores(t_cos, _best(near, t_cos), "transformer", 1.0 if rows else 0.0)
    static_cos = {r: c for r, c in static.scores(rows, query_static()).items() if c != 0.0}
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


def nearest_papers(
    static: VectorStore,
    qs: np.ndarray | Callable[[], np.ndarray],
    transformer: TransformerStore | None,
    qt: np.ndarray | None,
    paper_id: Callable[[int], str],
    *,
    limit: int,
    leave_out: Set[str] = frozenset(),
) -> list[tuple[str, float]]:
    """The `limit` papers nearest the query vectors (as `dense_stage` scores them), best
    first, none of them in `leave_out`; rows `paper_id` does not know ('') are skipped.

    Starts by asking for `limit` rows plus one per paper left out, at most `3 * limit + 20`
    more (papers left out, a collection, crowd its own centroid), and asks four times as many
    until enough are outside or the indexes have no more."""
    k = limit + min(len(leave_out), 3 * limit + 20)
    while True:
        dense = dense_stage(static, qs, transformer, qt, [], k=k)
        near = [
            (pid, dense.scores[r])
            for r in dense.rows
            if (pid := paper_id(r)) and pid not in leave_out
        ]
        if len(near) >= limit or len(dense.rows) < k:
            return near[:limit]
        k *= 4


def unit_mean(vectors: np.ndarray) -> np.ndarray | None:
    """The normalised mean of these rows, leaving out rows of zeros (no vector); None when
    none is left or they cancel out."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        return None
    vectors = vectors[np.any(vectors != 0, axis=1)]
    if not len(vectors):
        return None
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def _static_only(
    static: VectorStore,
    qs: np.ndarray,
    keyword_rows: Sequence[int],
    allowed: Callable[[list[int]], set[int]] | None,
    *,
    nearest: bool,
    k: int,
) -> DenseScores:
    """No transformer vector yet: the static cosines and the static index's nearest rows."""
    near = _allowed([r for r, _ in static.top(qs, k)], allowed) if nearest else []
    rows = list(dict.fromkeys([*keyword_rows, *near]))
    static_cos = {r: c for r, c in static.scores(rows, qs).items() if c != 0.0}
    return DenseScores(static_cos, _best(near, static_cos), "static", 0.0)


def _allowed(near: list[int], allowed: Callable[[list[int]], set[int]] | None) -> list[int]:
    if allowed is None or not near:
        return near
    ok = allowed(near)
    return [r for r in near if r in ok]


def _best(near: list[int], scores: dict[int, float]) -> list[int]:
    """The nearest rows of both indexes, best first by their score."""
    return sorted((r for r in near if r in scores), key=lambda r: (-scores[r], r))
