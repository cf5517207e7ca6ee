"""Coverage features and snippets of one query's top papers: the code before and after one
shared match per text, timed in the same process on the same texts, interleaved.

Run: python benchmarks/coverage_snippets.py [--papers 20000] [--rounds 5]

For each dev query: a keyword index over the first `--papers` papers of the shared corpus
gives the BM25 top 20 (standing in for the fused top 20 that the coverage stage re-ranks);
the first 10 of them get snippets of their abstracts, as `SearchService.search` attaches.

- before: `analyze(title + "\\n" + abstract)` per paper for `coverage_features`, then
  `spans(abstract, terms)` per snippet (each abstract matched again, hits counted pairwise),
  as the code was before `snippets.matched` (copied below);
- after: `matched(title)` and `matched(abstract)` per paper, their terms for the coverage
  features and the abstract's spans reused for the snippet (`window`), as the service does now.

Both give the same features and snippets (checked on every query before timing). Prints the
per-query median of each and the ratio of total times.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus, load_queries  # noqa: E402

from paperfeed.search.fusion import coverage_features  # noqa: E402
from paperfeed.search.keyword import IndexDoc, KeywordIndex, analyze, parse_query  # noqa: E402
from paperfeed.search.snippets import Matched, Span, matched, window  # noqa: E402

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def _terms_of(word: str) -> frozenset[str]:
    return frozenset(analyze(word))


@lru_cache(maxsize=4096)
def _starting_with(firsts: frozenset[str]) -> re.Pattern[str]:
    return re.compile(r"\b[" + "".join(re.escape(c) for c in sorted(firsts)) + r"]\w*", re.I)


def old_spans(text: str, terms: frozenset[str], width: int = 240) -> list[Span]:
    """`snippets.spans` before `matched` (its `_matches` fast path and pairwise counting)."""
    if not terms:
        hits: list[re.Match[str]] = []
    elif text.isascii() and "_" not in text:
        firsts = frozenset(t[0] for t in terms if t)
        words = _starting_with(firsts).finditer(text) if firsts else iter(())
        hits = [m for m in words if _terms_of(m.group(0)) & terms]
    else:
        hits = [m for m in _WORD.finditer(text) if _terms_of(m.group(0)) & terms]
    start, end = 0, min(len(text), width)
    if hits and len(text) > width:
        best, best_count = hits[0].start(), 0
        for i, h in enumerate(hits):
            count = sum(1 for g in hits[i:] if g.start() < h.start() + width)
            if count > best_count:
                best, best_count = h.start(), count
        start = max(0, best - width // 4)
        space = text.rfind(" ", 0, start)
        start = space + 1 if start and space >= 0 else start
        end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    out = [Span("… ", False)] if start > 0 else []
    pos = start
    for h in hits:
        if h.start() < start or h.end() > end:
            continue
        if h.start() > pos:
            out.append(Span(text[pos : h.start()], False))
        out.append(Span(h.group(0), True))
        pos = h.end()
    if pos < end:
        out.append(Span(text[pos:end], False))
    if end < len(text):
        out.append(Span(" …", False))
    return out


Case = tuple[tuple[str, ...], frozenset[str], dict[str, float], list[tuple[str, str]]]
Out = tuple[list[tuple[float, float]], list[list[Span]]]


def before(case: Case) -> Out:
    terms, wanted, idf, top = case
    features = [coverage_features(terms, idf, analyze(f"{t}\n{a}")) for t, a in top]
    return features, [old_spans(a, wanted) for _, a in top[:10]]


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
    args = ap.parse_args()
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
