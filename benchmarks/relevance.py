"""Relevance of keyword, dense and hybrid search on the dev queries, whole shared corpus loaded.

Run: python benchmarks/relevance.py [--embedders static:PATH onnx:DIR:TOKENS torch:TOKENS ...]
                                     [--full static] [--weights 0.5 1 1.5] [--queries TSV]

Keyword = the package's tantivy index (stemming, stop words, title boost). For every
embedder, vectors are computed for the union of the keyword top-100 candidates of all
queries (enough for "fuse over keyword top-100"); embedders named in --full are also run
over the whole corpus, which adds dense-only and "keyword top-100 + ANN top-k" rows.
Vectors are cached under .data/bench/vectors/ (delete to recompute).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CACHE, Doc, load_corpus, load_queries, mrr_recall  # noqa: E402

from paperfeed.search.embed import (  # noqa: E402
    Embedder,
    OnnxEmbedder,
    StaticEmbedder,
    TorchEmbedder,
    paper_text,
)
from paperfeed.search.fusion import fuse, reciprocal_rank  # noqa: E402
from paperfeed.search.keyword import TITLE_BOOST, IndexDoc, KeywordIndex, parse_query  # noqa: E402


def keyword_index(docs: list[Doc]) -> KeywordIndex:
    path = CACHE / "kw"
    if (path / "meta.json").exists():
        idx = KeywordIndex(path)
        if idx.num_docs() == len(docs):
            return idx
    t = time.perf_counter()
    idx = KeywordIndex.create_empty(path)
    idx.add(IndexDoc(i, d.arxiv_id, d.title, d.abstract) for i, d in enumerate(docs))
    print(f"keyword index: {len(docs)} papers in {time.perf_counter() - t:.1f}s", flush=True)
    return idx


def make_embedder(spec: str) -> Embedder:
    kind, _, rest = spec.partition(":")
    if kind == "static":
        return StaticEmbedder(Path(rest))
    if kind == "onnx":
        path, _, tokens = rest.rpartition(":")
        return OnnxEmbedder(Path(path), max_tokens=int(tokens))
    if kind == "torch":
        return TorchEmbedder(max_tokens=int(rest or 256))
    raise SystemExit(f"unknown embedder {spec}")


def cached_vectors(
    spec: str, emb: Embedder | None, docs: list[Doc], rows: list[int]
) -> dict[int, np.ndarray]:
    """Vectors for `rows`, computed once per (embedder, paper) and kept on disk."""
    key = spec.replace("/", "_").replace(":", "_")
    base = CACHE / "vectors" / key
    base.mkdir(parents=True, exist_ok=True)
    have: dict[str, np.ndarray] = {}
    if (base / "ids.json").exists():
        ids = json.loads((base / "ids.json").read_text())
        arr = np.load(base / "vecs.npy")
        have = dict(zip(ids, arr, strict=False))
    missing = [r for r in rows if docs[r].arxiv_id not in have]
    if missing:
        emb = emb or make_embedder(spec)
        t = time.perf_counter()
        new = emb.embed([paper_text(docs[r].title, docs[r].abstract) for r in missing])
        dt = time.perf_counter() - t
        print(
            f"{spec}: embedded {len(missing)} papers in {dt:.1f}s ({len(missing) / dt:.1f}/s)",
            flush=True,
        )
        have.update({docs[r].arxiv_id: v for r, v in zip(missing, new, strict=False)})
        (base / "ids.json").write_text(json.dumps(list(have)))
        np.save(base / "vecs.npy", np.stack(list(have.values())))
    return {r: have[docs[r].arxiv_id] for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedders", nargs="*", default=[])
    ap.add_argument("--full", nargs="*", default=[])
    ap.add_argument("--weights", nargs="*", type=float, default=[0.5, 1.0, 1.5, 2.0])
    ap.add_argument("--ann", type=int, default=20, help="dense candidates added to keyword top-100")
    ap.add_argument("--queries", default=None)
    ap.add_argument("--extra-title-boosts", nargs="*", type=float, default=[])
    args = ap.parse_args()

    docs = load_corpus()
    queries = load_queries(Path(args.queries)) if args.queries else load_queries()
    targets = [t for _, t in queries]
    idx = keyword_index(docs)
    ids = [d.arxiv_id for d in docs]
    for boost in args.extra_title_boosts:
        rows = [idx.search(parse_query(q), limit=10, title_boost=boost).rows for q, _ in queries]
        mrr, rec = mrr_recall([[ids[r] for r in rs] for rs in rows], [t for _, t in queries])
        print(f"(keyword with title boost {boost}: MRR@10 {mrr:.3f}, Recall@10 {rec:.3f})")
    kw = [idx.search(parse_query(q), limit=100) for q, _ in queries]

    def report(name: str, ranked_rows: list[list[int]]) -> None:
        mrr, rec = mrr_recall([[ids[r] for r in rows] for rows in ranked_rows], targets)
        print(f"| {name} | {mrr:.3f} | {rec:.3f} |", flush=True)

    print(
        f"\n{len(docs)} papers, {len(queries)} queries\n\n"
        "| ranker | MRR@10 | Recall@10 |\n|---|---|---|"
    )
    report(f"keyword (tantivy BM25, title boost {TITLE_BOOST})", [h.rows for h in kw])
    cand = sorted({r for h in kw for r in h.rows})
    for spec in args.embedders + [s for s in args.full if s not in args.embedders]:
        emb = make_embedder(spec)
        qv = emb.embed([q for q, _ in queries])
        full = None
        if spec in args.full:
            all_vecs = cached_vectors(spec, emb, docs, list(range(len(docs))))
            full = np.stack([all_vecs[r] for r in range(len(docs))])
            vecs = all_vecs
        else:
            vecs = cached_vectors(spec, emb, docs, cand)
        rerank = []
        for h, q in zip(kw, qv, strict=False):
            rerank.append(sorted(h.rows, key=lambda r: -float(vecs[r] @ q)))
        report(f"{spec}: dense re-rank of keyword top-100", rerank)
        if full is not None:
            sims = qv @ full.T
            dense_top = [list(np.argsort(-s)[:100]) for s in sims]
            report(f"{spec}: dense only (exact, whole corpus)", dense_top)
            report(
                f"{spec}: RRF(keyword, dense)",
                [reciprocal_rank([h.rows, d]) for h, d in zip(kw, dense_top, strict=False)],
            )
        for w in args.weights:
            fused = []
            for h, q in zip(kw, qv, strict=False):
                dense = {r: float(vecs[r] @ q) for r in h.rows}
                fused.append(fuse(h.rows, h.scores, dense, weight=w).rows)
            report(f"{spec}: keyword/top + {w} x cos, over keyword top-100", fused)
            if full is not None:
                fused = []
                for i, (h, q) in enumerate(zip(kw, qv, strict=False)):
                    extra = [int(r) for r in dense_top[i][: args.ann]]
                    rows = list(dict.fromkeys([*h.rows, *extra]))
                    dense = {r: float(full[r] @ q) for r in rows}
                    fused.append(fuse(h.rows, h.scores, dense, weight=w).rows)
                report(f"{spec}: same + dense top-{args.ann} candidates", fused)


if __name__ == "__main__":
    main()
