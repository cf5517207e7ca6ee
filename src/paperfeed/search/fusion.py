"""Fusion of keyword and dense scores into one ranking (pure stages).

score(doc) = trust x bm25(doc) / scale + weight x cosine(query, doc)
             [+ cover_weight x cover(doc) + bigram_weight x bigram(doc), top N only]
scale      = max(bm25(best keyword hit), ideal), ideal = the score of a paper holding every
             query term once (`KeywordIndex.ideal_score`); without an ideal, the best hit
cover      = bm25(best keyword hit) / scale: how much of the query the best hit covers
trust      = 1 if cover >= min_cover, else cover (`soft`) or 0 (the transformer's setting)

Candidates are the union of the keyword hits and the nearest vectors; a candidate found only
by its vector gets 0 for the keyword part. Why:

- Dividing by the ideal score (not the best hit alone) keeps a best hit that matches only the
  query's common words from counting as a full match (1.0).
- `min_cover` decides how far keyword evidence is trusted. A query that names its paper (a
  known-item query) usually has a best hit holding most of its terms (cover 0.6 to 1 on all
  100 dev queries); a query that describes a paper in other words has none (cover 0.3 to
  0.8, median 0.5, on 50 dev paraphrases). Below `min_cover` the keyword scores are either
  dropped (`soft=False`: the candidates are ranked by meaning alone) or scaled by the cover
  (`soft=True`): the less of the query the best hit holds, the less its keyword score
  counts against meaning, but it still counts. With every paper of the corpus embedded,
  meaning alone finds a paraphrased paper rarely (MRR@10 0.02 on dev paraphrases among
  218k papers), while known-item queries whose words the paper holds only in part (a second
  dev set, `dev_b`) lose their target when keyword evidence is dropped at a high
  `min_cover`. With the vectors of the per-channel int8 export (closer to the fp32 model)
  both rules tie under cross-validation at `min_cover` 0.5 (benchmarks/RESULTS.md); the
  transformer ships the plain gate there.

Reciprocal-rank fusion was measured worse (a weak ranker's ranks pull a strong one down).

The second stage (`coverage_features`, `rerank_coverage`) re-ranks the fused top N by how
much of the query a paper covers: BM25 sums per-term scores, so a paper repeating two of the
query's rarer terms can outrank one that holds them all, and neither cosine nor BM25 counts
coordination. It is a keyword signal, so it runs only while keyword evidence is trusted
(`keyword_trusted`): on a query in other words every candidate covers ~nothing of it.

Tuned numbers: for the static model the cosine weight and the two coverage weights
(benchmarks/fusion_cv.py); for the transformer `weight`, `min_cover` and one coverage weight
(`cover`; the bigram weight is a third of it, the static model's ratio), chosen by 5-fold
cross-validation on the tuning queries (dev, dev_b, dev paraphrases, heldout_b;
benchmarks/relevance_eval.py, every paper embedded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

DENSE_WEIGHT = 0.5  # default; each embedder carries its own tuned `fusion_weight`


class FusionParams(NamedTuple):
    """The tuned numbers of `fuse` for one kind of vector (benchmarks/RESULTS.md)."""

    weight: float  # of the cosine
    min_cover: float  # below it keyword evidence is scaled by the cover or dropped (`soft`)
    cover: float  # coverage re-ranking of the top N: cover x this + bigram x this / 3
    soft: bool = False  # below min_cover: keyword x cover (True) or keyword dropped (False)

    @property
    def coverage_weights(self) -> tuple[float, float]:
        return (self.cover, self.cover / 3)


# all-MiniLM-L6-v2 cosines (ONNX, fused, per-channel int8, 128 word pieces), all 218,199
# papers embedded: family and numbers by 5-fold CV on dev + dev_b + dev paraphrases +
# heldout_b, 400 queries (RESULTS.md, 2026-12-01 12:20, `gatecov:2.0:0.5:2.0`; the soft rule
# tied it, 0.796 both, and the rule takes the first family)
TRANSFORMER_FUSION = FusionParams(weight=2.0, min_cover=0.5, cover=2.0, soft=False)


def keyword_trusted(keyword_scores: Sequence[float], *, ideal: float, min_cover: float) -> bool:
    """Whether the best keyword hit covers at least `min_cover` of the query's ideal score
    (always, without an ideal score): if not, keyword evidence is dropped (module doc)."""
    best = max(keyword_scores, default=0.0)
    return ideal <= 0 or best / max(best, ideal) >= min_cover


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
    ideal: float = 0.0,
    min_cover: float = 0.0,
    soft: bool = False,
) -> Fused:
    """Combine BM25 hits and cosines over the union of both candidate sets (module doc).

    `ideal` is the query's ideal keyword score (0: scale by the best hit alone; then
    `min_cover` has no effect). Below `min_cover` keyword scores are dropped, or with `soft`
    scaled by the cover. A row absent from `dense` gets cosine 0.
    """
    best = max(keyword_scores, default=0.0)
    top = max(best, ideal) or 1.0
    trust = 1.0
    if not keyword_trusted(keyword_scores, ideal=ideal, min_cover=min_cover):
        trust = best / top if soft else 0.0
    kw = {r: trust * s / top for r, s in zip(keyword_rows, keyword_scores, strict=False)}
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


def coverage_features(
    query_terms: Sequence[str], idf: Mapping[str, float], doc_terms: Sequence[str]
) -> tuple[float, float]:
    """(cover, bigram) of one document for the query's analyzed terms.

    cover: IDF-weighted share of the query's distinct terms that occur in the document (BM25
    sums per-term scores, so one frequent term can outrank a document that has them all).
    bigram: share of the query's adjacent term pairs that are adjacent in the document
    (after the same stemming and stop-word removal), a cheap proximity signal.
    """
    terms = list(dict.fromkeys(query_terms))
    if not terms:
        return 0.0, 0.0
    present = set(doc_terms)
    total = sum(idf.get(t, 0.0) for t in terms) or 1.0
    cover = sum(idf.get(t, 0.0) for t in terms if t in present) / total
    pairs = set(zip(terms, terms[1:], strict=False))
    if not pairs:
        return cover, 0.0
    doc_pairs = set(zip(doc_terms, doc_terms[1:], strict=False))
    return cover, len(pairs & doc_pairs) / len(pairs)


def rerank_coverage(
    fused: Fused,
    features: Mapping[int, tuple[float, float]],
    *,
    cover_weight: float,
    bigram_weight: float,
) -> Fused:
    """Add `cover_weight x cover + bigram_weight x bigram` to the rows in `features`.

    Callers pass features for the fused top-N only; the bonus is never negative, so rows
    below the top N stay below it. Ties break by row, as in `fuse`.
    """
    if not features:
        return fused

    def bonus(row: int) -> float:
        c, b = features.get(row, (0.0, 0.0))
        return cover_weight * c + bigram_weight * b

    items = sorted(
        zip(fused.rows, fused.scores, fused.keyword, fused.dense, strict=False),
        key=lambda t: (-(t[1] + bonus(t[0])), t[0]),
    )
    return Fused(
        [t[0] for t in items],
        [t[1] + bonus(t[0]) for t in items],
        [t[2] for t in items],
        [t[3] for t in items],
    )
