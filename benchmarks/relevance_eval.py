"""Keyword, meaning and hybrid search on tuning sets (cross-validated), held-out and paraphrase
queries.

Run: python benchmarks/relevance_eval.py VEC_DIR [--embedder onnx:DIR:128] [--final]

VEC_DIR holds vectors as ``eval_vectors.py`` writes them (ids.txt + vecs-*.npy): a part of the
corpus in that script's priority order, or every paper (``store_vectors.py`` exports the
product's own transformer store). Corpus and keyword index: the whole shared corpus (218,199
papers). Tuning sets, the only queries anything is chosen on: dev
(``../shared/eval/dev_queries.tsv``, 100 known-item), dev_b (``benchmarks/eval/dev_b.tsv``,
100 known-item, a second draw by the dev recipe), dev paraphrases
(``benchmarks/eval/dev_paraphrase.tsv``, 50 descriptions of dev targets sharing no index
term with them) and, since 2026-12-01 11:00, heldout_b (``heldout_b.tsv``, 150, the dev
recipe: held out until one final run showed it beside another family's score, so it can no
longer judge a new choice). Held-out, with ``--final`` only, each reported once and never
used to pick anything: heldout150 (``benchmarks/eval/heldout150.tsv``), heldout_c
(``heldout_c.tsv``, 150, the dev recipe, draw C), paraphrase (``paraphrase.tsv``, 50) and
the older 20 held-out queries.

What "meaning" searches. With every paper of the corpus embedded: all of them, exactly (no
estimate; the header says so, and weights are picked by MRR@10 measured). Otherwise the
embedded papers (all targets, all keyword candidates, then K random papers of the corpus,
``random.Random(13)``; order.txt of eval_vectors.py); the output states the counts. Because
the K random papers are a uniform sample of all papers outside the candidate part, each
ranking then also gets a *whole-corpus estimate*: the candidate-part papers above the target
are counted exactly, the sampled papers above it are counted, and the unembedded papers
above it are Poisson with the mean that the sample's upper tail implies (an exponential
fitted to the query's top 400 random-sample cosines); the expected RR@10 and P(top 10) per
query are averaged (`whole_corpus`). A paper outside the candidate part has no keyword
score, so it outranks the target in a hybrid ranking when w x cos exceeds the target's
fused score.

Fusions (paperfeed.search.fusion; each ranks the union of keyword top-100 and dense top-50;
c = best hit / max(best hit, ideal score of the query): how much of the query the best
keyword hit covers):
  rerank    bm25 / best hit + w x cos (the issue's `bm25/top + w x cos`; one number)
  ideal     bm25 / max(best hit, ideal) + w x cos: the best hit counts c, not 1 (one number)
  rerankcov rerank, then the fused top 20 re-ranked by + v x cover + v/3 x bigram
            (`fusion.rerank_coverage`, the static model's second stage with its cover:bigram
            ratio 1.5:0.5); w, v
  gatecov   ideal while c >= t, then the coverage stage as in rerankcov; meaning alone (the
            keyword part dropped, no coverage stage) when c < t (t = 0: never gated); w, t, v
            (shipped before this section as `gatecov:1.5:0.6:3.0`)
  softcov   gatecov, but when c < t the keyword part is scaled by c instead of dropped
Family and weights are picked on the tuning sets together by 5-fold cross-validation (folds
stratified by set, 4 shuffles): each family's weights by CV, the family by its out-of-fold
score; "any grid" is the CV of picking among all families' settings at once (an honest
figure for the whole procedure). The objective is MRR@10 when every paper is embedded;
otherwise (`--objective`, default `whole`) the whole-corpus estimate, or `embedded`, RR@10
among the embedded papers. Intervals: 95% bootstrap over queries (2,000 resamples); "vs
keyword" is the paired difference of per-query reciprocal ranks.

Rocchio feedback (every paper embedded, and a pick with a gate): a query the gate hands to
meaning is ranked by q' = q + beta x mean(vectors of its k nearest papers), renormalized
(candidates: keyword top 100 + the 50 nearest to q'); (k, beta) in PRF_GRID or none, picked
by 5-fold CV on devpara only.

`--dump F --collect-only` saves the candidates (add `--final` to include the held-out sets)
without scoring anything; `--load F` scores them, the held-out sets only with `--final`.
"""

from __future__ import annotations

import argparse
import math
import pickle
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus, load_queries  # noqa: E402
from eval_vectors import QUERY_SETS, TIERS  # noqa: E402
from relevance import keyword_index, make_embedder  # noqa: E402

from paperfeed.search.dense import DENSE_CANDIDATES  # noqa: E402
from paperfeed.search.fusion import Fused, coverage_features, fuse, rerank_coverage  # noqa: E402
from paperfeed.search.keyword import analyze, parse_query  # noqa: E402
from paperfeed.search.pipeline import COVERAGE_TOP, idf_of  # noqa: E402

DEV_SETS = ("dev", "dev_b", "devpara", "heldout_b")
FINAL_SETS = ("heldout150", "heldout_c", "paraphrase", "heldout20")
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
GATES = (0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)  # min_cover (0: keyword always trusted)
COVERS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)  # gatecov: coverage weight (bigram: a third)
DENSE_EXTRA = DENSE_CANDIDATES  # nearest papers added to the keyword candidates (50)
RANDOM_KEEP = 400  # highest random-part cosines kept per query (counts above a score)
OBJECTIVES = {
    "whole": "whole-corpus est. MRR@10",
    "embedded": "MRR@10 among the embedded papers",
}
# Rocchio pseudo-relevance feedback for queries the gate hands to meaning: the query vector
# plus `beta` x the mean of its `k` nearest papers' vectors, renormalized
PRF_GRID = tuple((k, b) for k in (3, 5, 10, 20) for b in (0.25, 0.5, 1.0, 2.0))


@dataclass
class QueryData:
    target: int
    kw_rows: list[int]
    kw_scores: list[float]
    ideal: float
    dense_rows: list[int]  # nearest embedded papers, best first (top 100)
    cos: dict[int, float]  # cosine of every keyword candidate and dense row
    cos_t: float
    rand_cos: np.ndarray  # highest cosines among the random part, descending
    random_dense: list[int]  # the random-part papers among dense_rows
    feats: dict[int, tuple[float, float]]  # (cover, bigram) of every candidate (coverage_features)
    # (k, beta) -> (nearest rows best first, cosine of every keyword candidate and nearest
    # row) for the Rocchio query (PRF_GRID); only with every paper embedded
    prf: dict[tuple[int, float], tuple[list[int], dict[int, float]]] | None = None


def load_vectors(d: Path) -> tuple[list[str], np.ndarray]:
    ids = (d / "ids.txt").read_text().split() if (d / "ids.txt").exists() else []
    chunks = [np.load(p) for p in sorted(d.glob("vecs-*.npy"))]
    vecs = np.concatenate(chunks) if chunks else np.zeros((0, 384), np.float32)
    n = min(len(ids), len(vecs))
    return ids[:n], vecs[:n]


def bootstrap(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def fmt(values: np.ndarray) -> str:
    lo, hi = bootstrap(values)
    return f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def rank_of(ranked: list[int], target: int) -> int:
    return ranked.index(target) if target in ranked else 10**6


def rr(rank: float) -> float:
    return 1.0 / (round(rank) + 1) if rank < 9.5 else 0.0


def parse_key(key: str) -> tuple[str, float, float, float]:
    """'family:numbers' -> (family, w, min_cover t, coverage weight v); unused ones are 0."""
    method, *nums = key.split(":")
    x = [float(n) for n in nums]
    if method in ("ideal", "rerank"):
        return method, x[0], 0.0, 0.0
    if method == "gate":
        return method, x[0], x[1], 0.0
    if method == "rerankcov":
        return method, x[0], 0.0, x[1]
    if method in ("gatecov", "softcov"):
        return method, x[0], x[1], x[2]
    raise ValueError(key)


def candidates(
    q: QueryData, depth: int, prf: tuple[int, float] | None = None
) -> tuple[list[int], list[float], dict[int, float]]:
    """Keyword top-`depth` rows and scores, and the cosine of each of them and of the
    DENSE_EXTRA nearest rows (the Rocchio query's, with `prf`)."""
    kw_rows, kw_scores = q.kw_rows[:depth], q.kw_scores[:depth]
    dense_rows, cos = q.dense_rows, q.cos
    if prf is not None and q.prf is not None:
        dense_rows, cos = q.prf[prf]
    pool = list(dict.fromkeys([*kw_rows, *dense_rows[:DENSE_EXTRA]]))
    return kw_rows, kw_scores, {r: cos[r] for r in pool if r in cos}


def fused(q: QueryData, key: str, depth: int, prf: tuple[int, float] | None = None) -> Fused:
    """The hybrid ranking of one query under one fusion (product code: `fuse`,
    `rerank_coverage`). `prf`: a query the gate hands to meaning is ranked by the cosines of
    its Rocchio query (PRF_GRID) instead."""
    method, w, t, v = parse_key(key)
    kw_rows, kw_scores, dense = candidates(q, depth)
    c = cover_of(q, depth)
    if method in ("rerank", "rerankcov"):  # bm25 / best hit + w x cos: the rerank
        out = fuse(kw_rows, kw_scores, dense, weight=w)
    elif method == "ideal":
        out = fuse(kw_rows, kw_scores, dense, weight=w, ideal=q.ideal)
    elif method == "softcov" and c < t:  # c x bm25 / max(c x best, ideal) = c x bm25 / ideal
        return fuse(kw_rows, [c * x for x in kw_scores], dense, weight=w, ideal=q.ideal)
    else:  # gate, gatecov, softcov while trusted
        if c < t and prf is not None:
            kw_rows, kw_scores, dense = candidates(q, depth, prf)
        out = fuse(kw_rows, kw_scores, dense, weight=w, ideal=q.ideal, min_cover=t)
        if c < t or method == "gate":
            return out
    if method in ("ideal", "rerank"):
        return out
    feats = {r: q.feats[r] for r in out.rows[:COVERAGE_TOP] if r in q.feats}
    return rerank_coverage(out, feats, cover_weight=v, bigram_weight=v / 3)


def cover_of(q: QueryData, depth: int) -> float:
    best = max(q.kw_scores[:depth], default=0.0)
    return best / max(best, q.ideal) if best else 0.0


def fused_score(q: QueryData, key: str, depth: int, ranking: Fused) -> float:
    """The target's own fused score in `ranking` (for the whole-corpus estimate); if it is
    not ranked there, its score without the coverage stage (an unembedded paper is given
    no coverage bonus: it is outside the keyword top 100, it holds few of the query's terms)."""
    if q.target in ranking.rows:
        return ranking.scores[ranking.rows.index(q.target)]
    method, w, t, _ = parse_key(key)
    kw = dict(zip(q.kw_rows[:depth], q.kw_scores[:depth], strict=False))
    best = max(q.kw_scores[:depth], default=0.0)
    top = (best if method.startswith("rerank") else max(best, q.ideal)) or 1.0
    k = kw.get(q.target, 0.0) / top
    c = cover_of(q, depth)
    if method in ("gate", "gatecov") and c < t:
        k = 0.0
    if method == "softcov" and c < t:
        k *= c
    return k + w * q.cos_t


def above_target(
    q: QueryData, ranked: list[int], target_score: float, w: float
) -> tuple[int, int, float] | None:
    """(candidate-part papers above the target in `ranked`, sampled random-part papers above
    it, the cosine a random-part paper needs to outrank it), or None if it is not ranked.
    A random-part paper has no keyword score: it outranks the target when w x cos > the
    target's score."""
    exact = rank_of(ranked, q.target)
    if exact >= 10**6:
        return None
    rand = set(q.random_dense)
    above_cand = sum(1 for r in ranked[:exact] if r not in rand)
    need = target_score / w
    return above_cand, int((q.rand_cos > need).sum()), need


def whole_corpus(
    q: QueryData, above: tuple[int, int, float] | None, n_random: int, n_unseen: int
) -> tuple[float, float]:
    """Expected RR@10 and P(top 10) among all papers, given what the random sample shows.

    Papers above the target = candidate-part ones (exact) + sampled ones (m, counted) +
    unseen ones, Poisson with mean n_unseen x P(cos > need), where P is the sample's tail:
    its top K cosines, above the K-th (u), fitted by an exponential, P(cos > x) =
    K / n_random x exp(-(x - u) / mean(top K - u)).
    """
    if above is None:
        return 0.0, 0.0
    cand, m, need = above
    base = cand + m
    if base >= 10:
        return 0.0, 0.0
    if n_unseen == 0 or not n_random:  # nothing to extrapolate from: as measured
        return 1.0 / (base + 1), 1.0
    top = q.rand_cos
    u = float(top[-1])
    beta = max(float(np.mean(top - u)), 1e-6)
    lam = n_unseen * len(top) / n_random * math.exp(-max(need - u, 0.0) / beta)
    exp_rr = hit = 0.0
    for y in range(10 - base):
        p = math.exp(-lam + y * math.log(lam) - math.lgamma(y + 1)) if lam > 0 else float(y == 0)
        hit += p
        exp_rr += p / (base + y + 1)
    return exp_rr, hit


def collect(
    args: argparse.Namespace,
) -> tuple[dict[str, list[QueryData]], int, tuple[int, int], str]:
    """Per query: keyword top-100, ideal score, nearest embedded papers and cosines."""
    docs = load_corpus()
    idx = keyword_index(docs)
    row_of = {d.arxiv_id: i for i, d in enumerate(docs)}
    ids, vecs = load_vectors(args.vec_dir)
    if args.limit:  # use only the first N vectors (to check the whole-corpus estimate)
        ids, vecs = ids[: args.limit], vecs[: args.limit]
    keep = [i for i, a in enumerate(ids) if a in row_of]
    if len(keep) < len(ids):  # papers of the store that this corpus lacks
        ids, vecs = [ids[i] for i in keep], vecs[keep]
    emb_rows = np.array([row_of[a] for a in ids])
    exact = len(set(emb_rows.tolist())) == len(docs)  # every paper embedded: no estimate
    if exact:  # nothing sampled, nothing to extrapolate: the candidate part is everything
        n_targets, n_cand = 0, len(ids)
    else:
        head = (args.vec_dir / "order.txt").read_text().split("\n", 1)[0].split()
        n_targets, n_cand = int(head[0]), int(head[1])
    is_random = np.arange(len(ids)) >= n_cand
    n_random = int(is_random.sum())
    n_rest = len(docs) - n_cand  # papers outside the candidate part, sampled by the random part
    random_rows = {int(r) for r in emb_rows[is_random]}
    names = [*DEV_SETS, *(FINAL_SETS if args.final else ())]
    sets = {name: load_queries(QUERY_SETS[name]) for name in names}
    hits = {
        name: [idx.search(parse_query(q), limit=100) for q, _ in qs] for name, qs in sets.items()
    }
    have = set(emb_rows.tolist())
    depth = max(
        [0]
        + [
            tier
            for tier in TIERS
            if all(int(r) in have for hs in hits.values() for h in hs for r in h.rows[:tier])
        ]
    )
    missing = [t for qs in sets.values() for _, t in qs if row_of[t] not in have]
    if depth == 0 or missing:
        raise SystemExit(f"not enough vectors yet (depth {depth}, {len(missing)} targets missing)")
    emb = make_embedder(args.embedder)
    pos_of = {int(r): i for i, r in enumerate(emb_rows)}
    data: dict[str, list[QueryData]] = {}
    analyzed: dict[int, list[str]] = {}

    def features(q: str, rows: set[int]) -> dict[int, tuple[float, float]]:
        terms = parse_query(q).terms
        idf = idf_of(idx, terms)
        out = {}
        for r in rows:
            if r not in analyzed:
                analyzed[r] = analyze(f"{docs[r].title}\n{docs[r].abstract}")
            out[r] = coverage_features(terms, idf, analyzed[r])
        return out

    def nearest(sim: np.ndarray, n: int = 100) -> list[int]:
        part = np.argpartition(-sim, n)[:n]
        return [int(emb_rows[j]) for j in part[np.argsort(-sim[part], kind="stable")]]

    for name, qs in sets.items():
        qv = np.stack([emb.embed([q])[0] for q, _ in qs])  # one at a time, as the product
        sims = qv @ vecs.T
        kw_parts = [
            {int(r) for r in h.rows[:depth]} | {row_of[t]}
            for (_, t), h in zip(qs, hits[name], strict=True)
        ]
        prf: list[dict[tuple[int, float], tuple[list[int], dict[int, float]]]] = [{} for _ in qs]
        if exact:  # Rocchio queries: q + beta x mean of the k nearest, renormalized
            kmax = max(k for k, _ in PRF_GRID)
            top_pos = np.argpartition(-sims, kmax, axis=1)[:, :kmax]
            top_pos = np.take_along_axis(
                top_pos, np.argsort(-np.take_along_axis(sims, top_pos, axis=1), axis=1), axis=1
            )
            for k, beta in PRF_GRID:
                qp = qv + beta * vecs[top_pos[:, :k]].mean(axis=1)
                qp /= np.linalg.norm(qp, axis=1, keepdims=True)
                ps = qp @ vecs.T
                for i in range(len(qs)):
                    p_rows = nearest(ps[i])
                    p_cos = {r: float(ps[i, pos_of[r]]) for r in set(p_rows) | kw_parts[i]}
                    prf[i][(k, beta)] = (p_rows, p_cos)
                del ps
        out = []
        for i, ((q, t), h) in enumerate(zip(qs, hits[name], strict=True)):
            dense_rows = nearest(sims[i])
            rows = set(dense_rows) | {int(r) for r in h.rows[:depth]}
            cos = {r: float(sims[i, pos_of[r]]) for r in rows if r in pos_of}
            rand = np.sort(sims[i, is_random])[::-1][:RANDOM_KEEP]
            out.append(
                QueryData(
                    row_of[t],
                    [int(r) for r in h.rows],
                    list(h.scores),
                    idx.ideal_score(parse_query(q)),
                    dense_rows,
                    cos,
                    float(sims[i, pos_of[row_of[t]]]),
                    rand,
                    [r for r in dense_rows if r in random_rows],
                    features(q, rows),
                    prf[i] or None,
                )
            )
        data[name] = out
    load = Path("/proc/loadavg").read_text().split()[0]
    if exact:
        header = (
            f"corpus {len(docs)} papers; embedder {emb.name}; keyword candidates: top-{depth}; "
            f"meaning ranks among all {len(ids)} papers (every paper embedded: exact, no "
            f"whole-corpus estimate) (load average {load})"
        )
        return data, depth, (0, 0), header
    header = (
        f"corpus {len(docs)} papers; embedder {emb.name}; keyword candidates: top-{depth}; "
        f"meaning ranks among {len(ids)} embedded papers: {min(len(ids), n_cand)} of the "
        f"{n_cand} targets + keyword top-100 candidates of all query sets ({n_targets} "
        f"targets), + {n_random} random papers (seed 13) of the {n_rest} others "
        f"(load average {load})"
    )
    return data, depth, (n_random, n_rest - n_random), header


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("vec_dir", type=Path)
    ap.add_argument("--embedder", default="onnx:src/paperfeed/search/model/minilm:128")
    ap.add_argument("--final", action="store_true", help="also report the held-out sets")
    ap.add_argument("--dump", type=Path, help="save the per-query candidates here (pickle)")
    ap.add_argument("--load", type=Path, help="read them from a --dump instead")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N vectors")
    ap.add_argument(
        "--objective",
        choices=sorted(OBJECTIVES),
        default="whole",
        help="what weights are picked by: the whole-corpus estimate (default) or the "
        "measured RR@10 among the embedded papers (the objective before 2026-12-01 04:30)",
    )
    ap.add_argument(
        "--collect-only",
        action="store_true",
        help="with --dump: save the candidates and stop (nothing is scored or printed)",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.load:
        with args.load.open("rb") as fh:
            data, depth, sample, header = pickle.load(fh)
        if not args.final:  # a dump may hold the held-out sets: never score them unasked
            data = {n: qs for n, qs in data.items() if n in DEV_SETS}
    else:
        data, depth, sample, header = collect(args)
    if args.dump:
        with args.dump.open("wb") as fh:
            pickle.dump((data, depth, sample, header), fh)
    if args.collect_only:
        print(f"candidates of {', '.join(data)} saved to {args.dump}")
        return
    exact = sample[1] == 0  # every paper embedded: measured = whole corpus, no estimate
    print(header + "\n", flush=True)
    obj_j = 0 if exact or args.objective == "embedded" else 1
    objective = "MRR@10 (exact: every paper embedded)" if exact else OBJECTIVES[args.objective]

    families = {
        "rerank": [f"rerank:{w}" for w in WEIGHTS],
        "ideal": [f"ideal:{w}" for w in WEIGHTS],
        "rerankcov": [f"rerankcov:{w}:{v}" for w in WEIGHTS for v in COVERS],
        "gatecov": [f"gatecov:{w}:{t}:{v}" for w in WEIGHTS for t in GATES for v in COVERS],
        "softcov": [f"softcov:{w}:{t}:{v}" for w in WEIGHTS for t in GATES[1:] for v in COVERS],
    }
    keys = ["keyword", "meaning", *(k for ks in families.values() for k in ks)]
    if SHIPPED not in keys:
        keys.append(SHIPPED)
    # set -> method key -> per query (RR@10 measured, expected RR@10 and P(top 10) estimated
    # for the whole corpus; with every paper embedded the estimate is the measurement)
    res: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for name, qs in data.items():
        res[name] = {k: score(qs, k, depth, sample, exact) for k in keys}

    # choose on the tuning sets (dev + dev_b + devpara + heldout_b), cross-validated
    sizes = {n: len(data[n]) for n in DEV_SETS if n in data}
    dev_names = list(sizes)
    n_dev = sum(sizes.values())
    groups = np.concatenate([np.full(sizes[n], i) for i, n in enumerate(dev_names)])

    def stack(fkeys: list[str], j: int) -> np.ndarray:
        return np.stack([np.concatenate([res[n][k][j] for n in dev_names]) for k in fkeys])

    picked: dict[str, str] = {}
    # family -> set -> (measured RR, measured hit, estimated RR, estimated hit), out of fold
    oof: dict[str, dict[str, list[np.ndarray]]] = {}
    fam_cv: dict[str, float] = {}
    for fam, fkeys in [*families.items(), ("any", [k for ks in families.values() for k in ks])]:
        stacks = [stack(fkeys, j) for j in (0, 1, 2)]
        metrics = [stacks[0], (stacks[0] > 0) * 1.0, stacks[1], stacks[2]]
        mat = stacks[obj_j]
        picked[fam] = fkeys[int(np.argmax(mat.mean(axis=1)))]
        got = out_of_fold(mat, groups, metrics)
        oof[fam] = split_sets(got, dev_names, sizes)
        fam_cv[fam] = float(got[obj_j if obj_j == 0 else 2].mean())
        print(f"{fam}: {'+'.join(dev_names)} ({n_dev}) 5-fold CV {objective}: {fam_cv[fam]:.3f}")
        if fam != "any":
            print(
                f"{fam}: in-sample {objective} by setting: "
                + ", ".join(
                    f"{k.split(':', 1)[1]} {v:.3f}"
                    for k, v in zip(fkeys, mat.mean(axis=1), strict=True)
                )
            )
    best_fam = max(families, key=lambda f: fam_cv[f])
    pick = picked[best_fam]
    print(
        f"\npicked on all {n_dev} tuning queries by {objective}: "
        + ", ".join(picked[f] for f in families)
        + f"; family by CV: {best_fam} -> PICK {pick} "
        + f"(all families as one grid: CV {fam_cv['any']:.3f}, in-sample pick {picked['any']})\n"
    )

    # Rocchio feedback for the queries the pick's gate hands to meaning, chosen on devpara
    prf_pick, prf_oof = None, None
    prf_res: dict[str, list[np.ndarray]] | None = None
    _, _, gate_t, _ = parse_key(pick) if ":" in pick else ("", 0, 0, 0)
    has_prf = all(q.prf is not None for qs in data.values() for q in qs)
    if has_prf and gate_t > 0 and "devpara" in data:
        prf_keys = [None, *PRF_GRID]
        prf_res = {
            name: [prf_score(qs, pick, depth, kb) for kb in prf_keys] for name, qs in data.items()
        }
        mat = np.stack(prf_res["devpara"])
        prf_pick = prf_keys[int(np.argmax(mat.mean(axis=1)))]
        got = out_of_fold(mat, np.zeros(mat.shape[1], dtype=int), [mat, (mat > 0) * 1.0])
        prf_oof = got
        print(
            f"PRF on devpara ({mat.shape[1]}), in-sample MRR@10 by (k, beta): "
            + ", ".join(f"{kb} {v:.3f}" for kb, v in zip(prf_keys, mat.mean(axis=1), strict=True))
        )
        print(f"PRF picked on devpara: {prf_pick}; 5-fold CV MRR@10 {got[0].mean():.3f}\n")

    est_cols = not exact and sample[0] > 0
    print(
        "| queries | ranker | MRR@10 [95% CI] | Recall@10 [95% CI] | MRR vs keyword [95% CI] |"
        + (" est. whole corpus MRR@10 / R@10 |" if est_cols else "")
    )
    print("|---|---|---|---|---|" + ("---|" if est_cols else ""))
    for name in data:
        rows = [("keyword", "keyword", None), ("meaning", "meaning", None)]
        rows += [(f"hybrid/{picked[f]}", picked[f], f) for f in families]
        rows += [(f"hybrid/any grid: {picked['any']}", picked["any"], "any")]
        rows += [(f"hybrid/{SHIPPED} (shipped before, fixed)", SHIPPED, None)]
        kw_rr = res[name]["keyword"][0]
        for label, key, fam in rows:
            rr_m, rr_e, hit_e = res[name][key]
            hit = (rr_m > 0) * 1.0
            if name in DEV_SETS and fam is not None:
                rr_m, hit, rr_e, hit_e = oof[fam][name]
                label += ", 5-fold CV"
            if fam == best_fam:
                label = f"**{label} (pick)**"
            line(
                name, label, rr_m, hit, kw_rr, key == "keyword", (rr_e, hit_e) if est_cols else None
            )
        if prf_res is not None:  # (k, beta) picked on devpara; None: no feedback
            i = [None, *PRF_GRID].index(prf_pick)
            rr_m = prf_res[name][i]
            label = f"hybrid/{pick} + PRF {prf_pick}"
            if name == "devpara" and prf_oof is not None:
                rr_m, label = prf_oof[0], label + ", 5-fold CV on devpara"
            line(name, label, rr_m, (rr_m > 0) * 1.0, kw_rr, False, None)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


SHIPPED = "softcov:1.0:0.65:2.0"  # TRANSFORMER_FUSION before this run, for reference


def score(
    qs: list[QueryData], key: str, depth: int, sample: tuple[int, int], exact: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query: RR@10 measured, and the whole-corpus estimates of RR@10 and P(top 10)."""
    out: tuple[list[float], list[float], list[float]] = ([], [], [])
    for q in qs:
        if key == "keyword":
            r = rank_of(q.kw_rows, q.target)
            est = (rr(r), float(r < 10))
        elif key == "meaning":
            r = rank_of(q.dense_rows, q.target)
            est = (
                (rr(r), float(r < 10))
                if exact
                else whole_corpus(q, above_target(q, q.dense_rows, q.cos_t, 1.0), *sample)
            )
        else:
            ranking = fused(q, key, depth)
            r = rank_of(ranking.rows, q.target)
            if exact:
                est = (rr(r), float(r < 10))
            else:
                # a paper outside the candidate part can only come in by its vector (no
                # keyword score): it outranks the target when w x cos > the target's score
                above = above_target(
                    q, ranking.rows, fused_score(q, key, depth, ranking), parse_key(key)[1]
                )
                est = whole_corpus(q, above, *sample)
        out[0].append(rr(r))
        out[1].append(est[0])
        out[2].append(est[1])
    return np.array(out[0]), np.array(out[1]), np.array(out[2])


def prf_score(
    qs: list[QueryData], key: str, depth: int, prf: tuple[int, float] | None
) -> np.ndarray:
    """RR@10 per query of fusion `key`, gated queries ranked by their Rocchio query."""
    return np.array([rr(rank_of(fused(q, key, depth, prf).rows, q.target)) for q in qs])


def out_of_fold(
    mat: np.ndarray, groups: np.ndarray, metrics: list[np.ndarray], reps: int = 4
) -> list[np.ndarray]:
    """5-fold CV (folds stratified by `groups`, `reps` shuffles): for each query, the mean
    over shuffles of each metric at the setting (row of `mat`) that the other folds pick."""
    cols = np.arange(mat.shape[1])
    picks = []
    for rep in range(reps):
        rng = random.Random(rep)
        fold = np.zeros(mat.shape[1], dtype=int)
        for g in sorted(set(groups.tolist())):
            members = [i for i in range(len(groups)) if groups[i] == g]
            rng.shuffle(members)
            for j, m in enumerate(members):
                fold[m] = j % 5
        pick = np.zeros(mat.shape[1], dtype=int)
        for f in range(5):
            test = fold == f
            pick[test] = int(np.argmax(mat[:, ~test].mean(axis=1)))
        picks.append(pick)
    return [np.mean([m[p, cols] for p in picks], axis=0) for m in metrics]


def split_sets(
    got: list[np.ndarray], names: list[str], sizes: dict[str, int]
) -> dict[str, list[np.ndarray]]:
    out, start = {}, 0
    for n in names:
        out[n] = [g[start : start + sizes[n]] for g in got]
        start += sizes[n]
    return out


def line(
    name: str,
    label: str,
    rr_m: np.ndarray,
    hit: np.ndarray,
    kw_rr: np.ndarray,
    is_kw: bool,
    est: tuple[np.ndarray, np.ndarray] | None,
) -> None:
    diff = "" if is_kw else fmt(rr_m - kw_rr)
    tail = f" {fmt(est[0])} / {fmt(est[1])} |" if est is not None else ""
    print(
        f"| {name} ({len(rr_m)}) | {label} | {fmt(rr_m)} | {fmt(hit)} | {diff} |{tail}",
        flush=True,
    )


if __name__ == "__main__":
    main()
