"""Keyword, meaning and hybrid search on dev (cross-validated), held-out and paraphrase queries.

Run: python benchmarks/relevance_eval.py VEC_DIR [--embedder onnx:DIR:128] [--final]

VEC_DIR is written by ``eval_vectors.py`` (whole corpus, fixed priority order, possibly not
finished). Corpus and keyword index: the whole shared corpus (218,199 papers). Query sets:
dev (``../shared/eval/dev_queries.tsv``, 100 known-item) and dev paraphrases
(``benchmarks/eval/dev_paraphrase.tsv``, 50 descriptions of dev targets sharing no index
term with them), the only queries anything is chosen on; then, with ``--final`` only,
held-out (``benchmarks/eval/heldout150.tsv``, 150), paraphrase (``paraphrase.tsv``, 50) and
the older 20 held-out queries, each reported once, never used to pick anything.

What "meaning" searches: the embedded papers (all targets, all keyword candidates, then K
random papers of the corpus, ``random.Random(13)``); the output states the counts. Because
the K random papers are a uniform sample of all papers outside the candidate part, each
ranking also gets a *whole-corpus estimate*: the candidate-part papers above the target are
counted exactly, the sampled papers above it are counted, and the unembedded papers above it
are Poisson with the mean that the sample's upper tail implies (an exponential fitted to the
query's top 400 random-sample cosines); the expected RR@10 and P(top 10) per query are
averaged (`whole_corpus`). A paper outside the
candidate part has no keyword score, so it outranks the target in a hybrid ranking when
w x cos exceeds the target's fused score. With the whole corpus embedded both agree.

Fusions (paperfeed.search.fusion; each ranks the union of keyword top-k and dense top-50):
  ideal   k + w x cos, k = bm25 / max(best hit, ideal score of the query)   (the old one)
  cover   c x k + w x cos, c = best hit / max(best hit, ideal) = how much of the query the
          best keyword hit covers: when no paper matches most of the query's terms, keyword
          evidence counts little and meaning decides
  gate    like ideal while c >= t, meaning alone (k ignored) when c < t (t = 0: never gated)
  gatecov gate, then (while c >= t: keyword evidence trusted) the fused top 20 re-ranked by
          + v x cover + v/3 x bigram (`fusion.rerank_coverage`, the static model's second
          stage, with its cover:bigram ratio 1.5:0.5); v in COVERS
  softcov gatecov, but when c < t the keyword part is scaled by c (c x k + w x cos) instead
          of dropped (a soft gate; no extra number)
Weights are picked on dev + dev paraphrases together (150 queries) by 5-fold cross-
validation (folds stratified by set, 4 shuffles). The objective (`--objective`, default
`whole`) is the whole-corpus estimate, expected RR@10 among all papers, averaged over the
queries: the product searches the whole corpus once the transformer backfill is done, and
among the embedded papers only meaning faces ~3x fewer distractors than it will, so that
objective over-rewards letting meaning decide. `--objective embedded` picks, as before
2026-12-01 04:30, by RR@10 among the embedded papers. Intervals: 95% bootstrap over queries
(2,000 resamples); "vs keyword" is the paired difference of per-query reciprocal ranks.

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

DEV_SETS = ("dev", "devpara")
FINAL_SETS = ("heldout150", "paraphrase", "heldout20")
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
GATES = (0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)  # min_cover (0: keyword always trusted)
POWERS = (1.0, 2.0, 4.0)  # cover: keyword x cover**power
COVERS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)  # gatecov: coverage weight (bigram: a third)
DENSE_EXTRA = DENSE_CANDIDATES  # nearest papers added to the keyword candidates (50)
RANDOM_KEEP = 400  # highest random-part cosines kept per query (counts above a score)
OBJECTIVES = {
    "whole": "whole-corpus est. MRR@10",
    "embedded": "MRR@10 among the embedded papers",
}


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


def fused_rows(
    q: QueryData, method: str, w: float, t: float, depth: int, v: float = 0.0
) -> list[int]:
    """The hybrid ranking of one query under one fusion (product code: `fuse`)."""
    kw_rows, kw_scores = q.kw_rows[:depth], q.kw_scores[:depth]
    pool = list(dict.fromkeys([*kw_rows, *q.dense_rows[:DENSE_EXTRA]]))
    dense = {r: q.cos[r] for r in pool if r in q.cos}
    if method == "ideal":
        return fuse(kw_rows, kw_scores, dense, weight=w, ideal=q.ideal).rows
    if method == "gate":
        return fuse(kw_rows, kw_scores, dense, weight=w, ideal=q.ideal, min_cover=t).rows
    if method == "cover":  # keyword scores x cover (a soft gate), for comparison only
        c, top = cover_of(q, depth), max(max(kw_scores, default=0.0), q.ideal)
        return fuse(kw_rows, [c**t * x for x in kw_scores], dense, weight=w, ideal=top).rows
    if method in ("gatecov", "softcov"):
        return gatecov(q, w, t, v, depth, soft=method == "softcov").rows
    raise ValueError(method)


def gatecov(q: QueryData, w: float, t: float, v: float, depth: int, soft: bool = False) -> Fused:
    """`gate`, then the coverage re-ranking of the top 20 while keyword evidence is trusted.
    `soft`: below `t` the keyword part is scaled by the cover instead of dropped."""
    kw_rows, kw_scores = q.kw_rows[:depth], q.kw_scores[:depth]
    pool = list(dict.fromkeys([*kw_rows, *q.dense_rows[:DENSE_EXTRA]]))
    dense = {r: q.cos[r] for r in pool if r in q.cos}
    c = cover_of(q, depth)
    if soft and c < t:  # c x bm25 / max(c x best, ideal) = c x bm25 / ideal (best < ideal)
        return fuse(kw_rows, [c * x for x in kw_scores], dense, weight=w, ideal=q.ideal)
    fused = fuse(kw_rows, kw_scores, dense, weight=w, ideal=q.ideal, min_cover=t)
    if c < t:
        return fused
    feats = {r: q.feats[r] for r in fused.rows[:COVERAGE_TOP] if r in q.feats}
    return rerank_coverage(fused, feats, cover_weight=v, bigram_weight=v / 3)


def cover_of(q: QueryData, depth: int) -> float:
    best = max(q.kw_scores[:depth], default=0.0)
    return best / max(best, q.ideal) if best else 0.0


def fused_score(q: QueryData, method: str, w: float, t: float, depth: int, v: float = 0.0) -> float:
    """The target's own fused score under `method` (for the whole-corpus estimate). With
    `gatecov`, its coverage bonus when it is in the re-ranked top 20; an unembedded paper is
    given none (it is outside the keyword top 100: it holds few of the query's terms)."""
    if method in ("gatecov", "softcov"):
        fused = gatecov(q, w, t, v, depth, soft=method == "softcov")
        if q.target in fused.rows:
            return fused.scores[fused.rows.index(q.target)]
        method = "gate" if method == "gatecov" else "soft"
    kw = dict(zip(q.kw_rows[:depth], q.kw_scores[:depth], strict=False))
    top = max(max(q.kw_scores[:depth], default=0.0), q.ideal) or 1.0
    k = kw.get(q.target, 0.0) / top
    c = cover_of(q, depth)
    if method == "gate" and c < t:
        k = 0.0
    if method == "soft" and c < t:
        k *= c
    if method == "cover":
        k *= c**t
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
    head = (args.vec_dir / "order.txt").read_text().split("\n", 1)[0].split()
    n_targets, n_cand = int(head[0]), int(head[1])
    emb_rows = np.array([row_of[a] for a in ids])
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

    for name, qs in sets.items():
        qv = np.stack([emb.embed([q])[0] for q, _ in qs])  # one at a time, as the product
        sims = qv @ vecs.T
        out = []
        for i, ((q, t), h) in enumerate(zip(qs, hits[name], strict=True)):
            order = np.argsort(-sims[i])[:100]
            dense_rows = [int(emb_rows[j]) for j in order]
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
                )
            )
        data[name] = out
    load = Path("/proc/loadavg").read_text().split()[0]
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
    n_random = sample[0]
    print(header + "\n", flush=True)

    # per set, per method key -> per-query (measured RR, estimated whole-corpus RR)
    keys = ["keyword", "meaning"]
    keys += [f"ideal:{w}" for w in WEIGHTS]
    keys += [f"cover:{w}:{g}" for w in WEIGHTS for g in POWERS]
    keys += [f"gate:{w}:{t}" for w in WEIGHTS for t in GATES]
    keys += [f"gatecov:{w}:{t}:{v}" for w in WEIGHTS for t in GATES for v in COVERS]
    keys += [f"softcov:{w}:{t}:{v}" for w in WEIGHTS for t in GATES[1:] for v in COVERS]
    # set -> method key -> per query (RR@10 measured, expected RR@10 and P(top 10) estimated
    # for the whole corpus)
    res: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for name, qs in data.items():
        table: dict[str, tuple[list[float], list[float], list[float]]] = {
            k: ([], [], []) for k in keys
        }

        def add(key: str, measured: int, est: tuple[float, float], table=table) -> None:  # type: ignore[no-untyped-def]
            table[key][0].append(rr(measured))
            table[key][1].append(est[0])
            table[key][2].append(est[1])

        for q in qs:
            r_kw = rank_of(q.kw_rows, q.target)
            add("keyword", r_kw, (rr(r_kw), float(r_kw < 10)))
            above = above_target(q, q.dense_rows, q.cos_t, 1.0)
            add("meaning", rank_of(q.dense_rows, q.target), whole_corpus(q, above, *sample))
            for key in keys[2:]:
                parts = key.split(":")
                method, w = parts[0], float(parts[1])
                t = float(parts[2]) if len(parts) > 2 else 0.0
                v = float(parts[3]) if len(parts) > 3 else 0.0
                ranked = fused_rows(q, method, w, t, depth, v)
                # a paper outside the candidate part can only come in by its vector (no
                # keyword score): it outranks the target when w x cos > the target's score
                f_t = fused_score(q, method, w, t, depth, v)
                above = above_target(q, ranked, f_t, w)
                add(key, rank_of(ranked, q.target), whole_corpus(q, above, *sample))
        res[name] = {k: (np.array(a), np.array(b), np.array(c)) for k, (a, b, c) in table.items()}

    # choose on dev + dev paraphrases (150 queries), cross-validated
    dev_idx = {n: len(data[n]) for n in DEV_SETS}
    families = {
        "ideal": [f"ideal:{w}" for w in WEIGHTS],
        "cover": [f"cover:{w}:{g}" for w in WEIGHTS for g in POWERS],
        "gate": [f"gate:{w}:{t}" for w in WEIGHTS for t in GATES],
        "gatecov": [f"gatecov:{w}:{t}:{v}" for w in WEIGHTS for t in GATES for v in COVERS],
        "softcov": [f"softcov:{w}:{t}:{v}" for w in WEIGHTS for t in GATES[1:] for v in COVERS],
    }
    # the objective weights are chosen by: the whole-corpus estimate (expected RR@10 among
    # all papers, the product's setting) or, as before, RR@10 among the embedded papers
    obj_j = 1 if args.objective == "whole" else 0
    picked: dict[str, str] = {}
    # family -> set -> (measured RR, measured hit, estimated RR, estimated hit), out of fold
    oof: dict[str, dict[str, list[np.ndarray]]] = {}
    groups = np.concatenate([np.full(dev_idx[n], i) for i, n in enumerate(DEV_SETS)])
    for fam, fkeys in families.items():
        stacks = [
            np.stack([np.concatenate([res[n][k][j] for n in DEV_SETS]) for k in fkeys])
            for j in (0, 1, 2)
        ]
        metrics = [stacks[0], (stacks[0] > 0) * 1.0, stacks[1], stacks[2]]
        mat = stacks[obj_j]
        picked[fam] = fkeys[int(np.argmax(mat.mean(axis=1)))]
        cols = np.arange(mat.shape[1])
        reps = []
        for rep in range(4):
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
            reps.append(pick)
        got = [np.mean([m[p, cols] for p in reps], axis=0) for m in metrics]
        start = 0
        oof[fam] = {}
        for n in DEV_SETS:
            oof[fam][n] = [g[start : start + dev_idx[n]] for g in got]
            start += dev_idx[n]
        print(
            f"{fam}: dev+devpara 5-fold CV: embedded MRR@10 {got[0].mean():.3f}, "
            f"whole-corpus est. MRR@10 {got[2].mean():.3f}"
        )
        print(
            f"{fam}: dev+devpara {OBJECTIVES[args.objective]} in-sample by setting: "
            + ", ".join(
                f"{k.split(':', 1)[1]} {v:.3f}"
                for k, v in zip(fkeys, mat.mean(axis=1), strict=True)
            )
        )
    print(
        f"\npicked on all 150 dev queries by {OBJECTIVES[args.objective]}: "
        + ", ".join(picked.values())
        + "\n"
    )
    print(
        "| queries | ranker | MRR@10 [95% CI] | Recall@10 [95% CI] | MRR vs keyword [95% CI] "
        "| est. whole corpus MRR@10 / R@10 |"
    )
    print("|---|---|---|---|---|---|")
    for name in data:
        rows = [("keyword", "keyword"), ("meaning", "meaning")]
        rows += [(f"hybrid/{k}", k) for k in picked.values()]
        for label, key in rows:
            rr_m, rr_e, hit_e = res[name][key]
            hit = (rr_m > 0) * 1.0
            if name in DEV_SETS and key in picked.values():
                rr_m, hit, rr_e, hit_e = oof[key.split(":")[0]][name]
                label += ", 5-fold CV"
            diff = "" if key == "keyword" else fmt(rr_m - res[name]["keyword"][0])
            est = f"{fmt(rr_e)} / {fmt(hit_e)}" if n_random else ""
            print(
                f"| {name} ({len(rr_m)}) | {label} | {fmt(rr_m)} | {fmt(hit)} | {diff} | {est} |",
                flush=True,
            )
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
