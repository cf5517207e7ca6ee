"""Keyword, meaning and hybrid search on dev (cross-validated), held-out and paraphrase queries.

Run: python benchmarks/relevance_eval.py VEC_DIR [VEC_DIR ...] [--embedder onnx:DIR:256]

VEC_DIRs are written by ``eval_vectors.py`` (same corpus, same priority order). Corpus and
keyword index: the whole shared corpus (218,199 papers), as in ``relevance.py``. Query sets:
dev (``../shared/eval/dev_queries.tsv``, 100, public, used to pick weights), held-out
(``benchmarks/eval/heldout150.tsv``, 150) and paraphrase (``benchmarks/eval/paraphrase.tsv``,
50, no index term shared with the target), never used to pick anything; the older 20
held-out queries are reported too.

Candidates and what "meaning" searches: keyword candidates are the whole-corpus keyword
top-k, k = the deepest tier of ``eval_vectors.py`` whose papers are all embedded (10, 20,
30, 50 or 100; MRR@10 of keyword search itself does not depend on k >= 10). Dense search
runs over the embedded papers only: all targets, all keyword candidates of all queries
(topically close, hard distractors) and K random papers; the output states the counts.

Methods, each with one weight w, picked on dev by 5-fold cross-validation (4 shuffles):
  keyword    tantivy BM25 (title + abstract, title boost), as shipped
  meaning    cosine of query and paper vectors (exact scan of the embedded papers)
  hybrid/top bm25 / bm25(best hit) + w x cos over keyword top-k + dense top-20
  hybrid/ideal  the same with bm25 divided by max(best hit, ideal score of the query)
Intervals: 95% bootstrap over queries (2,000 resamples, seed 0); "vs keyword" is the paired
difference of per-query reciprocal ranks.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus, load_queries  # noqa: E402
from eval_vectors import QUERY_SETS, TIERS  # noqa: E402
from relevance import keyword_index, make_embedder  # noqa: E402

from paperfeed.search.fusion import fuse  # noqa: E402
from paperfeed.search.keyword import parse_query  # noqa: E402

WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
DENSE_EXTRA = 20


def load_vectors(dirs: list[Path]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for d in dirs:
        ids = (d / "ids.txt").read_text().split() if (d / "ids.txt").exists() else []
        chunks = [np.load(p) for p in sorted(d.glob("vecs-*.npy"))]
        if not chunks:
            continue
        vecs = np.concatenate(chunks)[: len(ids)]
        out.update(zip(ids[: len(vecs)], vecs, strict=False))
    return out


def rr_at_10(ranked: list[int], target: int) -> float:
    top = ranked[:10]
    return 1.0 / (top.index(target) + 1) if target in top else 0.0


def bootstrap(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def fmt(values: np.ndarray) -> str:
    lo, hi = bootstrap(values)
    return f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("vec_dirs", nargs="+", type=Path)
    ap.add_argument("--embedder", default="onnx:src/paperfeed/search/model/minilm:256")
    args = ap.parse_args()
    t0 = time.perf_counter()
    docs = load_corpus()
    idx = keyword_index(docs)
    row_of = {d.arxiv_id: i for i, d in enumerate(docs)}
    have = load_vectors(args.vec_dirs)
    sets = {name: load_queries(path) for name, path in QUERY_SETS.items()}
    ranked = {
        name: [idx.search(parse_query(q), limit=100) for q, _ in qs] for name, qs in sets.items()
    }
    depth = 0
    for tier in TIERS:
        if all(
            docs[r].arxiv_id in have for hs in ranked.values() for h in hs for r in h.rows[:tier]
        ):
            depth = tier
    targets = {t for qs in sets.values() for _, t in qs}
    missing = [t for t in targets if t not in have]
    if depth == 0 or missing:
        raise SystemExit(f"not enough vectors yet (depth {depth}, {len(missing)} targets missing)")
    cand = {int(r) for hs in ranked.values() for h in hs for r in h.rows[:depth]}
    sub_rows = np.array(sorted(row_of[a] for a in have))
    matrix = np.stack([have[docs[r].arxiv_id] for r in sub_rows]).astype(np.float32)
    n_random = len(sub_rows) - len(cand | {row_of[t] for t in targets})
    emb = make_embedder(args.embedder)
    print(
        f"corpus {len(docs)} papers; embedder {emb.name}; keyword candidates: top-{depth}; "
        f"dense search over {len(sub_rows)} embedded papers = {len(targets)} targets + "
        f"keyword candidates + {n_random} random distractors (seed 13)\n",
        flush=True,
    )

    per: dict[str, dict[str, np.ndarray]] = {}  # set -> method/weight -> per-query RR
    hits: dict[str, dict[str, np.ndarray]] = {}
    for name, qs in sets.items():
        qv = np.stack([emb.embed([q])[0] for q, _ in qs])  # one at a time, as the product
        sims = qv @ matrix.T
        res: dict[str, list[float]] = {}
        hit: dict[str, list[float]] = {}

        def add(
            key: str,
            ranking: list[int],
            target: int,
            res=res,
            hit=hit,  # type: ignore[no-untyped-def]
        ) -> None:
            r = rr_at_10(ranking, target)
            res.setdefault(key, []).append(r)
            hit.setdefault(key, []).append(1.0 if r > 0 else 0.0)

        for i, ((q, t), h) in enumerate(zip(qs, ranked[name], strict=True)):
            target = row_of[t]
            kw_rows, kw_scores = list(h.rows[:depth]), list(h.scores[:depth])
            add("keyword", list(h.rows), target)
            order = np.argsort(-sims[i])
            dense_rows = [int(sub_rows[j]) for j in order[:100]]
            add("meaning", dense_rows, target)
            cos = dict(zip(sub_rows.tolist(), sims[i].tolist(), strict=True))
            pool = list(dict.fromkeys([*kw_rows, *dense_rows[:DENSE_EXTRA]]))
            dense = {r: cos[r] for r in pool if r in cos}
            ideal = idx.ideal_score(parse_query(q))
            for w in WEIGHTS:
                add(f"top:{w}", fuse(kw_rows, kw_scores, dense, weight=w).rows, target)
                add(
                    f"ideal:{w}",
                    fuse(kw_rows, kw_scores, dense, weight=w, keyword_scale=ideal).rows,
                    target,
                )
        per[name] = {k: np.array(v) for k, v in res.items()}
        hits[name] = {k: np.array(v) for k, v in hit.items()}

    dev = per["dev"]
    picked: dict[str, str] = {}
    cv_rr: dict[str, np.ndarray] = {}
    for fam in ("top", "ideal"):
        keys = [f"{fam}:{w}" for w in WEIGHTS]
        table = np.stack([dev[k] for k in keys])
        picked[fam] = keys[int(np.argmax(table.mean(axis=1)))]
        folds_rr = []
        for rep in range(4):
            order = list(range(table.shape[1]))
            random.Random(rep).shuffle(order)
            oof = np.zeros(table.shape[1])
            for f in range(5):
                test = order[f::5]
                train = [i for i in order if i not in set(test)]
                pick = int(np.argmax(table[:, train].mean(axis=1)))
                oof[test] = table[pick, test]
            folds_rr.append(oof)
        cv_rr[fam] = np.mean(folds_rr, axis=0)
        print(
            f"hybrid/{fam}: dev MRR@10 by weight: "
            + ", ".join(f"w={w} {dev[k].mean():.3f}" for w, k in zip(WEIGHTS, keys, strict=True))
        )
    print()
    print("| queries | ranker | MRR@10 [95% CI] | Recall@10 [95% CI] | MRR vs keyword [95% CI] |")
    print("|---|---|---|---|---|")
    for name in sets:
        rows = [("keyword", "keyword"), ("meaning", "meaning")]
        rows += [(f"hybrid/{fam} (w={picked[fam].split(':')[1]})", picked[fam]) for fam in picked]
        for label, key in rows:
            rr = per[name][key]
            if name == "dev" and key in picked.values():
                fam = key.split(":")[0]
                rr = cv_rr[fam]
                label += ", 5-fold CV"
            diff = rr - per[name]["keyword"]
            d = "" if key == "keyword" else fmt(diff)
            print(
                f"| {name} ({len(rr)}) | {label} | {fmt(rr)} | {fmt(hits[name][key])} | {d} |",
                flush=True,
            )
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
