"""The "for you" model: pure functions over arrays, shared by the service and the benchmark.

Per reader, a logistic regression over the search embeddings and four features a person can
check (cosine to the closest kept paper, tf-idf overlap with the kept papers, shared authors,
popularity) separates the papers the reader kept (saved, upvoted, read) from a background
sample of the pool and from the papers they dismissed. For kept papers the four features
leave the paper itself out, so each reader's model learns which of them tell. The score is
blended with the tf-idf overlap; the blend was fit on two kinds of simulated readers
and tested on the third (`benchmarks/recommend.py`, `benchmarks/RESULTS.md`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
STOP = frozenset(
    """a about above after again against all also an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having here how however i if in into is it its itself just large
    less may more most much new no nor not novel of off on once only or other our out over
    own paper papers propose proposed same show shows so some such than that the their them
    then there these they this those through to too under until up using use used very via
    was we well were what when where which while who whom why will with within without would
    yet you your approach approaches method methods model models results based work study
    task tasks performance existing different first significantly state-of-the-art
    demonstrate achieve achieves including introduce present across like one two three
    provide provides effective efficient high low better best""".split()  # noqa: SIM905
)


def words(text: str) -> list[str]:
    """Lower-cased content words of `text` (no stop words, at least 3 characters)."""
    out = []
    for w in _WORD.findall(text):
        lw = w.lower()
        if len(lw) >= 3 and lw not in STOP:
            out.append(lw)
    return out


def term_counts(title: str, abstract: str) -> Counter[str]:
    """Words and adjacent word pairs of a paper; the title's count twice."""
    c: Counter[str] = Counter()
    for text, times in ((abstract, 1), (title, 2)):
        ws = words(text)
        for _ in range(times):
            c.update(ws)
            c.update(f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False))
    return c


@dataclass(slots=True)
class TermMatrix:
    """Sparse rows of L2-normalised tf-idf weights (CSR arrays, numpy only)."""

    vocab: dict[str, int]
    idf: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @classmethod
    def build(cls, docs: Sequence[Counter[str]]) -> TermMatrix:
        vocab: dict[str, int] = {}
        df: Counter[int] = Counter()
        rows = []
        for d in docs:
            ids = [vocab.setdefault(t, len(vocab)) for t in d]
            df.update(ids)
            rows.append((ids, list(d.values())))
        n = max(len(docs), 1)
        idf = np.zeros(len(vocab), dtype=np.float32)
        for i, c in df.items():
            idf[i] = math.log((n + 1) / (c + 0.5))
        indptr = np.zeros(len(docs) + 1, dtype=np.int64)
        indices = np.zeros(sum(len(r[0]) for r in rows), dtype=np.int64)
        data = np.zeros(len(indices), dtype=np.float32)
        pos = 0
        for k, (ids, counts) in enumerate(rows):
            if ids:
                v = np.asarray(counts, dtype=np.float32) * idf[ids]
                v /= float(np.linalg.norm(v)) or 1.0
                indices[pos : pos + len(ids)] = ids
                data[pos : pos + len(ids)] = v
            pos += len(ids)
            indptr[k + 1] = pos
        return cls(vocab, idf, indptr, indices, data)

    def profile(self, rows: Sequence[int]) -> np.ndarray:
        """The mean of `rows` as a dense vector over the vocabulary."""
        out = np.zeros(len(self.vocab), dtype=np.float32)
        for r in rows:
            a, b = self.indptr[r], self.indptr[r + 1]
            out[self.indices[a:b]] += self.data[a:b]
        return out / max(len(rows), 1)

    def dot(self, vec: np.ndarray) -> np.ndarray:
        """Every row's dot product with a dense vocabulary vector."""
        prod = np.append(self.data * vec[self.indices], np.float32(0))  # reduceat bounds
        sums = np.add.reduceat(prod, self.indptr[:-1]).astype(np.float32)
        sums[self.indptr[:-1] == self.indptr[1:]] = 0.0  # reduceat gives an element there
        return sums


@dataclass(slots=True)
class Pool:
    """The papers a reader's model sees: kept, dismissed, candidates and background."""

    ids: list[str]
    vecs: np.ndarray  # (n, d) unit vectors (the search embeddings)
    counts: list[Counter[str]]
    terms: TermMatrix
    authors: list[list[str]]
    upvotes: np.ndarray

    @classmethod
    def build(
        cls,
        ids: list[str],
        vecs: np.ndarray,
        counts: list[Counter[str]],
        authors: list[list[str]],
        upvotes: Sequence[int],
    ) -> Pool:
        return cls(
            ids,
            np.asarray(vecs, dtype=np.float32),
            counts,
            TermMatrix.build(counts),
            authors,
            np.asarray(upvotes, dtype=np.float32),
        )


@dataclass(slots=True)
class Weights:
    """How the per-reader model's score and the checkable features are blended on top of it
    (defaults: the grid's choice with `org` readers held out, benchmarks/RESULTS.md)."""

    lr: float = 1.0
    nn: float = 0.0
    kw: float = 0.25
    author: float = 0.0
    pop: float = 0.0


WEIGHTS = Weights()
BACKGROUND = 500  # background papers per model
L2 = 1.0  # on the embedding weights
L2_META = 0.1  # on the four checkable features (few, so lightly held back)


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    l2: float | np.ndarray = 1.0,
    steps: int = 8,
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (features are few: d + 1);
    `l2` is one strength or one per feature."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1), dtype=np.float64)])
    w = np.zeros(d + 1)
    reg = np.append(np.broadcast_to(np.asarray(l2, dtype=np.float64), (d,)), 1e-6)
    for _ in range(steps):
        z = np.clip(xb @ w, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        g = xb.T @ (sample_weight * (p - y)) + reg * w
        h = (xb * (sample_weight * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        w -= np.linalg.solve(h, g)
    return w[:-1], float(w[-1])


@dataclass(slots=True)
class ReaderModel:
    """A reader's model: trained when their signals change, reused until then."""

    w: np.ndarray  # weights of the embedding dimensions
    w_meta: np.ndarray  # weights of the standardised checkable features (nn, kw, author, pop)
    b: float
    pos: np.ndarray  # pool rows of the kept papers
    neg: np.ndarray  # pool rows of the dismissed papers
    profile: np.ndarray  # mean tf-idf vector of the kept papers
    authors: Counter[str]
    meta_mean: np.ndarray
    meta_std: np.ndarray


def _meta(
    pool: Pool, rows: np.ndarray, pos: np.ndarray, authors: Counter[str], kw_all: np.ndarray
) -> np.ndarray:
    """(n, 4) checkable features of `rows`: cosine to the closest kept paper, tf-idf overlap
    with the kept papers, shared authors, popularity. A kept row is compared with the other
    kept papers only (leave one out), so the model learns how telling each feature is."""
    n_pos = len(pos)
    vecs = pool.vecs[rows]
    sims = vecs @ pool.vecs[pos].T if n_pos else np.zeros((len(rows), 1), np.float32)
    is_pos = np.isin(rows, pos)
    if n_pos:
        self_col = {int(r): j for j, r in enumerate(pos)}
        for i in np.flatnonzero(is_pos):
            sims[i, self_col[int(rows[i])]] = -1.0
    nn = sims.max(axis=1) if n_pos > (1 if is_pos.any() else 0) else np.zeros(len(rows))
    kw = kw_all[rows] * n_pos  # sum over kept papers of the row's overlap
    kw = np.where(is_pos, (kw - 1.0) / max(n_pos - 1, 1), kw / max(n_pos, 1))
    au = np.array(
        [
            math.log1p(sum(authors.get(a.lower(), 0) - int(p) for a in set(pool.authors[r])))
            for r, p in zip(rows.tolist(), is_pos.tolist(), strict=True)
        ]
    )
    pop = np.log1p(pool.upvotes[rows])
    return np.column_stack([nn, kw, au, pop]).astype(np.float64)


def train(
    pool: Pool,
    pos: Sequence[int],
    neg: Sequence[int] = (),
    *,
    background: int = BACKGROUND,
    l2: float = L2,
    l2_meta: float = L2_META,
    seed: int = 0,
) -> ReaderModel:
    """Fit the reader's logistic regression over the embeddings and the checkable features."""
    pos_a = np.asarray(pos, dtype=np.int64)
    neg_a = np.asarray(neg, dtype=np.int64)
    taken = np.zeros(len(pool.ids), dtype=bool)
    taken[pos_a] = True
    taken[neg_a] = True
    free = np.flatnonzero(~taken)
    rng = np.random.default_rng(seed)
    bg = rng.choice(free, size=min(background, len(free)), replace=False) if len(free) else free
    authors: Counter[str] = Counter(a.lower() for r in pos_a for a in set(pool.authors[r]))
    profile = pool.terms.profile(pos_a.tolist())
    rows = np.concatenate([pos_a, bg, neg_a]).astype(np.int64)
    meta = _meta(pool, rows, pos_a, authors, pool.terms.dot(profile))
    mean = meta[len(pos_a) : len(pos_a) + len(bg)].mean(axis=0) if len(bg) else meta.mean(axis=0)
    std = meta[len(pos_a) : len(pos_a) + len(bg)].std(axis=0) if len(bg) else meta.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    x = np.hstack([pool.vecs[rows].astype(np.float64), (meta - mean) / std])
    y = np.concatenate([np.ones(len(pos_a)), np.zeros(len(bg) + len(neg_a))])
    # kept papers balanced against the background; a dismissal weighs as 3 kept papers
    wp = max(len(bg), 1) / max(len(pos_a), 1)
    sw = np.concatenate([np.full(len(pos_a), wp), np.ones(len(bg)), np.full(len(neg_a), 3 * wp)])
    d = pool.vecs.shape[1]
    scale = max(len(bg), 1) / 100
    reg = np.concatenate([np.full(d, l2 * scale), np.full(4, l2_meta * scale)])
    w, b = fit_logistic(x, y, sw, l2=reg)
    return ReaderModel(
        w[:d].astype(np.float32),
        w[d:].astype(np.float32),
        b,
        pos_a,
        neg_a,
        profile,
        authors,
        mean.astype(np.float32),
        std.astype(np.float32),
    )


def _z(v: np.ndarray) -> np.ndarray:
    sd = float(v.std()) if len(v) else 0.0
    return (v - float(v.mean())) / sd if sd > 1e-9 else np.zeros_like(v)


@dataclass(slots=True)
class Features:
    """The parts of every candidate's score (each row one candidate)."""

    rows: np.ndarray  # pool rows of the candidates
    lr: np.ndarray
    nn: np.ndarray
    kw: np.ndarray
    author: np.ndarray
    pop: np.ndarray
    closest: np.ndarray  # (n, k) pool rows of the closest kept papers

    def matrix(self) -> np.ndarray:
        """(n, 5) columns in `Weights` order: lr, nn, kw, author, pop (z-scored but author)."""
        return np.column_stack(
            [_z(self.lr), _z(self.nn), _z(self.kw), self.author, _z(self.pop)]
        ).astype(np.float32)

    def blend(self, weights: Weights = WEIGHTS) -> np.ndarray:
        w = np.array([weights.lr, weights.nn, weights.kw, weights.author, weights.pop])
        return self.matrix() @ w.astype(np.float32)


def features(model: ReaderModel, pool: Pool, rows: Sequence[int], *, k: int = 3) -> Features:
    """Score parts of the candidate `rows` under the reader's model."""
    r = np.asarray(rows, dtype=np.int64)
    vecs = pool.vecs[r]
    kw_all = pool.terms.dot(model.profile)
    meta = _meta(pool, r, model.pos, model.authors, kw_all)
    lr = vecs @ model.w + ((meta - model.meta_mean) / model.meta_std) @ model.w_meta + model.b
    if len(model.pos):
        sims = vecs @ pool.vecs[model.pos].T
        kk = min(k, sims.shape[1])
        if sims.shape[1] > kk:
            order = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        else:
            order = np.tile(np.arange(sims.shape[1]), (len(r), 1))
        top = np.take_along_axis(sims, order, axis=1)
        sort = np.argsort(-top, axis=1)
        order = np.take_along_axis(order, sort, axis=1)
        nn = np.take_along_axis(top, sort, axis=1)[:, 0]
        closest = model.pos[order]
    else:
        nn = np.zeros(len(r), dtype=np.float32)
        closest = np.zeros((len(r), 0), dtype=np.int64)
    if len(model.neg):  # near a dismissed paper counts against it as much as near a kept one
        nn = nn - np.clip(vecs @ pool.vecs[model.neg].T, 0, None).max(axis=1)
    return Features(r, lr, nn, meta[:, 1], meta[:, 2], meta[:, 3], closest)


def shared_terms(pool: Pool, row: int, closest: Sequence[int], n: int = 5) -> list[str]:
    """Words a candidate shares with its closest kept papers, most telling (idf) first."""
    mine = pool.counts[row]
    common: dict[str, float] = {}
    for other_row in closest:
        other = pool.counts[int(other_row)]
        for t in mine.keys() & other.keys():
            idx = pool.terms.vocab.get(t)
            common[t] = common.get(t, 0.0) + (
                float(pool.terms.idf[idx]) if idx is not None else 0.0
            )
    ranked = sorted(common.items(), key=lambda item: -item[1])  # stable: ties keep their order
    return [t for t, _ in ranked[:n]]
