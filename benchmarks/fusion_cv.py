"""Richer fusion features, weights chosen by k-fold cross-validation on the dev queries.

Run: python benchmarks/fusion_cv.py [--static .data/bench/static_base] [--folds 5 --repeats 4]

Same corpus, keyword index and cached static vectors as `relevance.py`. For every query the
candidates are what the product scores (keyword top-100 + 20 nearest vectors, exact here),
and each candidate gets these features (BM25 parts are divided by their best value among
the query's candidates, 0 where the field has no match):

  kw     shipped keyword score (BM25 over title+abstract + 0.1 x title BM25)
  text   BM25 over the title+abstract field alone
  title  BM25 over the title field alone
  cos    cosine of query and paper vector (title + abstract: what the product stores)
  cos_t  cosine of query and a vector of the title alone
  cos_a  cosine of query and a vector of the abstract alone
  cover  IDF-weighted share of the query's distinct terms found in title+abstract
  bigram share of the query's adjacent term pairs found adjacent in title+abstract
         (after stemming and stop-word removal), a cheap proximity signal

A method is a linear score over some features with a small weight grid. "CV" is the mean
MRR@10 over held-out folds of weights picked on the other folds (repeated with different
shuffles); "in-sample" picks on all 100 queries. The weights picked on all dev queries are
then scored on `benchmarks/heldout_queries.tsv`, which was never used for choosing.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tantivy  # noqa: E402
from corpus import load_corpus, load_queries  # noqa: E402
from relevance import cached_vectors, keyword_index  # noqa: E402

from paperfeed.search.embed import StaticEmbedder  # noqa: E402
from paperfeed.search.keyword import analyze, parse_query  # noqa: E402

TOPN = 0  # 0: every candidate gets cover/bigram; else only the base ranking's top N (--topn)
HELDOUT = Path(__file__).resolve().parent / "heldout_queries.tsv"
FEATURES = ("kw", "text", "title", "cos", "cos_t", "cos_a", "cover", "bigram")


def field_scores(idx, parsed, field: str, limit: int = 2000) -> dict[int, float]:
    """BM25 of one field for the query's plain terms (phrases as in the product: ignored here)."""
    Occur, Query = tantivy.Occur, tantivy.Query
    terms = list(parsed.terms) + [t for p in parsed.phrases for t in p]
    if not terms:
        return {}
    q = Query.boolean_query([(Occur.Should, Query.term_query(idx.schema, field, t)) for t in terms])
    searcher = idx.searcher
    res = searcher.search(q, limit=limit, count=False)
    rows = searcher.fast_field_values("row", [a for _, a in res.hits])
    return {int(r): float(s) for r, (s, _) in zip(rows, res.hits, strict=False)}


def build(queries, docs, idx, full, emb, ann: int = 20):
    """Per query: (candidate rows, feature matrix, index of the target or -1)."""
    ids = [d.arxiv_id for d in docs]
    qv = emb.embed([q for q, _ in queries])
    out = []
    pending = []
    for (q, target), v in zip(queries, qv, strict=False):
        parsed = parse_query(q)
        kw = idx.search(parsed, limit=100)
        dense_top = [int(r) for r in np.argsort(-(full @ v))[:ann]]
        rows = list(dict.fromkeys([*kw.rows, *dense_top]))
        pending.append((q, target, v, parsed, kw, rows))
    need = sorted({r for *_, rows in pending for r in rows})
    tv = emb.embed([docs[r].title for r in need])
    av = emb.embed([docs[r].abstract for r in need])
    tvec = dict(zip(need, tv, strict=False))
    avec = dict(zip(need, av, strict=False))
    n_docs = idx.num_docs()
    for _q, target, v, parsed, kw, rows in pending:
        kwd = dict(zip(kw.rows, kw.scores, strict=False))
        text = field_scores(idx, parsed, "text")
        title = field_scores(idx, parsed, "title")
        feats = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
        for j, part in enumerate((kwd, text, title)):
            vals = np.array([part.get(r, 0.0) for r in rows])
            feats[:, j] = vals / (vals.max() or 1.0)
        feats[:, 3] = [float(full[r] @ v) for r in rows]
        feats[:, 4] = [float(tvec[r] @ v) for r in rows]
        feats[:, 5] = [float(avec[r] @ v) for r in rows]
        qterms = list(dict.fromkeys(parsed.terms))
        idf = {t: np.log(n_docs / (1 + idx.searcher.doc_freq("text", t))) for t in qterms}
        qpairs = set(zip(qterms, qterms[1:], strict=False))
        for i, r in enumerate(rows):
            toks = analyze(f"{docs[r].title}\n{docs[r].abstract}")
            present = set(toks)
            tot = sum(idf.values()) or 1.0
            feats[i, 6] = sum(w for t, w in idf.items() if t in present) / tot
            if qpairs:
                pairs = set(zip(toks, toks[1:], strict=False))
                feats[i, 7] = len(qpairs & pairs) / len(qpairs)
        tgt = next((i for i, r in enumerate(rows) if ids[r] == target), -1)
        out.append((np.array(rows), feats, tgt))
    return out


def rr(data, w: np.ndarray) -> np.ndarray:
    """Reciprocal rank@10 per query for weight vector w (ties broken by row, as in fuse)."""
    res = np.zeros(len(data))
    for i, (rows, feats, tgt) in enumerate(data):
        if tgt < 0:
            continue
        s = feats @ w
        if TOPN and np.any(w[6:]):  # proximity/coverage only re-rank the base top-N
            base = feats[:, :6] @ w[:6]
            top = np.lexsort((rows, -base))[:TOPN]
            s = base.copy()
            s[top] += feats[top, 6:] @ w[6:]
        better = np.sum((s > s[tgt]) | ((s == s[tgt]) & (rows < rows[tgt])))
        if better < 10:
            res[i] = 1.0 / (better + 1)
    return res


METHODS: dict[str, dict[str, list[float]]] = {
    # each: feature -> candidate weights (grid); features not named get 0
    "shipped: kw + w cos": {"kw": [1.0], "cos": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]},
    "text + a title + w cos": {
        "text": [1.0],
        "title": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
        "cos": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0],
    },
    "kw + w cos + b cos_t + c cos_a": {
        "kw": [1.0],
        "cos": [0.0, 0.2, 0.4, 0.6],
        "cos_t": [0.0, 0.1, 0.2, 0.3, 0.5],
        "cos_a": [0.0, 0.2, 0.4, 0.6],
    },
    "text + a title + w cos + b cos_t + c cos_a": {
        "text": [1.0],
        "title": [0.0, 0.1, 0.2],
        "cos": [0.0, 0.2, 0.4, 0.6],
        "cos_t": [0.0, 0.1, 0.2, 0.3],
        "cos_a": [0.0, 0.2, 0.4, 0.6],
    },
    "kw + w cos + d cover": {
        "kw": [1.0],
        "cos": [0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2],
        "cover": [0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5],
    },
    "kw + w cos + e bigram": {
        "kw": [1.0],
        "cos": [0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
        "bigram": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    },
    "kw + w cos + d cover + e bigram": {
        "kw": [1.0],
        "cos": [0.3, 0.5, 0.6, 0.8, 1.0, 1.2],
        "cover": [0.0, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5],
        "bigram": [0.0, 0.1, 0.2, 0.3, 0.5],
    },
}


def grid(spec: dict[str, list[float]]) -> np.ndarray:
    names = list(spec)
    ws = []
    for combo in itertools.product(*(spec[n] for n in names)):
        w = np.zeros(len(FEATURES))
        for n, x in zip(names, combo, strict=False):
            w[FEATURES.index(n)] = x
        ws.append(w)
    return np.array(ws)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--static", default=".data/bench/static_base")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--topn", type=int, default=0)
    args = ap.parse_args()
    global TOPN
    TOPN = args.topn
    docs = load_corpus()
    idx = keyword_index(docs)
    spec = f"static:{args.static}"
    vecs = cached_vectors(spec, None, docs, list(range(len(docs))))
    full = np.stack([vecs[r] for r in range(len(docs))]).astype(np.float32)
    del vecs
    emb = StaticEmbedder(Path(args.static))
    dev = build(load_queries(), docs, idx, full, emb)
    held = build(load_queries(HELDOUT), docs, idx, full, emb)
    print(f"{len(docs)} papers; dev {len(dev)} queries, held-out {len(held)}")
    print("\n| method | in-sample MRR@10 | CV MRR@10 | held-out MRR@10 | weights (all dev) |")
    print("|---|---|---|---|---|")
    for name, g in METHODS.items():
        W = grid(g)
        table = np.stack([rr(dev, w) for w in W])  # (weights, queries)
        best_all = int(np.argmax(table.mean(axis=1)))
        cv = []
        for rep in range(args.repeats):
            order = list(range(len(dev)))
            random.Random(rep).shuffle(order)
            folds = [order[k :: args.folds] for k in range(args.folds)]
            for test in folds:
                train = [i for i in order if i not in set(test)]
                pick = int(np.argmax(table[:, train].mean(axis=1)))
                cv.extend(table[pick, test])
        h = rr(held, W[best_all]).mean()
        wdesc = ", ".join(f"{f}={x:g}" for f, x in zip(FEATURES, W[best_all], strict=False) if x)
        print(
            f"| {name} | {table[best_all].mean():.3f} | {np.mean(cv):.3f} | {h:.3f} | {wdesc} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
