"""Coverage features and snippets of one query's top papers: the code before and after one
shared match per text, timed in the same process on the same texts, interleaved.

Run: git archive 58e57ed src | tar -x -C /tmp/old        (the code before `snippets.matched`)
     python benchmarks/coverage_snippets.py --old /tmp/old/src [--papers 20000] [--rounds 5]

For each dev query: a keyword index over the first `--papers` papers of the shared corpus
gives the BM25 top 20 (standing in for the fused top 20 that the coverage stage re-ranks);
the first 10 of them get snippets of their abstracts, as `SearchService.search` attaches.

- before: `analyze(title + "\\n" + abstract)` per paper for `coverage_features`, then
  `spans(abstract, terms)` per snippet (each abstract matched again, hits counted pairwise),
  as the code was before `snippets.matched` (loaded from `--old`, as in search_ab.py);
- after: `matched(title)` and `matched(abstract)` per paper, their terms for the coverage
  features and the abstract's spans reused for the snippet (`window`), as the service does now.

Both give the same features and snippets (checked on every query before timing). Prints the
per-query median of each and the ratio of total times.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus, load_queries  # noqa: E402
from search_ab import old_package  # noqa: E402

from paperfeed.search.fusion import coverage_features  # noqa: E402
from paperfeed.search.keyword import IndexDoc, KeywordIndex, parse_query  # noqa: E402
from paperfeed.search.snippets import Matched, Span, matched, window  # noqa: E402

OLD: dict[str, Any] = {}  # the older checkout's `analyze` and `spans` (`--old`)


Case = tuple[tuple[str, ...], frozenset[str], dict[str, float], list[tuple[str, str]]]
Out = tuple[list[tuple[float, float]], list[list[Span]]]


def before(case: Case) -> Out:
    terms, wanted, idf, top = case
    analyze_old, spans_old = OLD["analyze"], OLD["spans"]
    features = [coverage_features(terms, idf, analyze_old(f"{t}\n{a}")) for t, a in top]
    return features, [spans_old(a, wanted) for _, a in top[:10]]


def after(case: Case) -> Out:
    terms, wanted, idf, top = case
    features, found = [], {}
    for title, abstract in top:
        hits: Matched = matched(abstract, wanted)
        features.append(coverage_features(terms, idf, [*matched(title, wanted).terms, *hits.terms]))
        found[abstract] = hits
    return features, [window(a, found[a].spans) for _, a in top[:10]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old", type=Path, required=True, help="the older checkout's src/")
    args = ap.parse_args()
    old_dir = tempfile.TemporaryDirectory()
    old_package(args.old, Path(old_dir.name))
    OLD["analyze"] = importlib.import_module("paperfeed_old.search.keyword").analyze
    OLD["spans"] = importlib.import_module("paperfeed_old.search.snippets").spans
    docs = load_corpus(limit=args.papers)
    with tempfile.TemporaryDirectory() as tmp:
        index = KeywordIndex(Path(tmp))
        index.add(
            IndexDoc(i, d.arxiv_id, d.title, d.abstract, new=True) for i, d in enumerate(docs)
        )
        cases: list[Case] = []
        for q, _ in load_queries():
            parsed = parse_query(q)
            rows = index.search(parsed, limit=20).rows
            idf = {t: 1.0 for t in parsed.terms}  # the idf values do not change the work
            top = [(docs[r].title, docs[r].abstract) for r in rows]
            cases.append((parsed.terms, frozenset(parsed.all_terms), idf, top))
    for case in cases:  # same results, and every cache warm
        assert before(case) == after(case), case[0]
    times: dict[str, list[float]] = {"before": [], "after": []}
    for n in range(args.rounds):
        for i, case in enumerate(cases):
            order = (before, after) if (n + i) % 2 == 0 else (after, before)
            for stage in order:
                t = time.perf_counter()
                stage(case)
                times[stage.__name__].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    ratio = sum(times["before"]) / sum(times["after"])
    texts = sum(len(c[3]) for c in cases) / len(cases)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{len(cases)} queries x {args.rounds} rounds, {texts:.1f} texts per query, "
        f"{args.papers} papers indexed; load average {load}"
    )
    print(
        f"coverage + snippets per query, median ms: before {med['before']:.3f}, "
        f"after {med['after']:.3f}; total before/after {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
