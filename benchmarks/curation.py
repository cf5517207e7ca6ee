"""Offline benchmark of the curation queue's ranking on real data (RESULTS.md "Curation").

    nice -n 10 .venv/bin/python benchmarks/curation.py [--data ../shared/data]

Replays Hugging Face's daily lists day by day. For each arXiv listing day D of the shared cs
corpus: candidates = that day's papers (`listing_date == D`); positives = the candidates that
made Hugging Face's daily list (any day). The ranker learns only from earlier days: the HF
papers featured in the 60 days before D (`daily_date < D`, never a candidate of D) with their
upvotes, which stand in for this community's listed papers.

Compared: "newest first" (arXiv id descending: ids grow with submission time), "keyword match
to past titles" (title words weighted by how often they appeared in the history's titles and
how rare they are among the day's candidates), and `paperfeed.curation.InterestModel`.
Metrics per day: precision@10 and recall@50, averaged over days with a 95% bootstrap interval
(resampling days), and the paired difference against each baseline.

Days before SPLIT are the training days: the weight grid (`--tune`) runs on them only. Days
from SPLIT on are held out and are what RESULTS.md reports.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from paperfeed import curation  # noqa: E402
from paperfeed.curation import InterestModel, Liked  # noqa: E402
from paperfeed.models import Paper  # noqa: E402

SPLIT = date(2025, 9, 1)
START = date(2024, 6, 1)  # HF history starts 2024-05-27: leave a few days of history
_WORD = re.compile(r"[a-z][a-z0-9\-]{2,}")
STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "via",
        "into",
        "over",
        "under",
        "using",
        "based",
        "towards",
        "toward",
        "large",
        "model",
        "models",
        "learning",
        "data",
        "new",
        "its",
        "their",
        "our",
        "are",
        "can",
        "this",
        "that",
        "via",
        "non",
        "multi",
    ]
)


def load(
    data: Path,
) -> tuple[dict[date, list[Paper]], dict[str, Paper], list[tuple[Paper, int, date]]]:
    corpus: dict[date, list[Paper]] = defaultdict(list)
    cats: dict[str, tuple[str | None, list[str]]] = {}
    for shard in sorted(data.glob("arxiv_cs_daily_2024-2026.part-*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                day = date.fromisoformat(r["listing_date"])
                categories = r.get("categories") or []
                primary = r.get("primary_category") or (categories[0] if categories else None)
                p = Paper(
                    id=r["arxiv_id"], title=r["title"], abstract=r["abstract"],
                    authors=r.get("authors") or [], categories=categories,
                    primary_category=primary, listing_date=day,
                )  # fmt: skip
                corpus[day].append(p)
                cats[p.id] = (primary, categories)
    hf: list[tuple[Paper, int, date]] = []
    with gzip.open(data / "hf_daily_papers_2404589803_2024-2026.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            if not r.get("daily_date"):
                continue
            primary, categories = cats.get(r["arxiv_id"], (None, []))
            p = Paper(
                id=r["arxiv_id"], title=r["title"], abstract=r["abstract"],
                authors=r.get("authors") or [], categories=categories, primary_category=primary,
            )  # fmt: skip
            hf.append((p, int(r.get("upvotes") or 0), date.fromisoformat(r["daily_date"])))
    return corpus, {p.id: p for p, _, _ in hf}, hf


class CachedEmbed:
    """The bundled static embedder, each text embedded once."""

    def __init__(self) -> None:
        from paperfeed.search.embed import StaticEmbedder

        self.model = StaticEmbedder()
        self.cache: dict[str, np.ndarray] = {}

    def prefill(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for i in range(0, len(todo), 4096):
            chunk = todo[i : i + 4096]
            for t, v in zip(chunk, self.model.embed(chunk), strict=True):
                self.cache[t] = v
            print(f"  embedded {min(i + 4096, len(todo))}/{len(todo)}", file=sys.stderr)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.prefill(texts)
        return np.stack([self.cache[t] for t in texts])


def words(title: str) -> set[str]:
    return {w for w in _WORD.findall(title.lower()) if w not in STOP}


def newest_first(candidates: list[Paper], history: list[Liked]) -> list[str]:
    return [p.id for p in sorted(candidates, key=lambda p: p.id, reverse=True)]


def keyword_match(candidates: list[Paper], history: list[Liked]) -> list[str]:
    past = Counter(w for x in history for w in words(x.paper.title))
    df = Counter(w for p in candidates for w in words(p.title))
    n = len(candidates)

    def score(p: Paper) -> float:
        ws = words(p.title)
        if not ws:
            return 0.0
        total = sum(math.log1p(past[w]) * math.log((n + 1) / (df[w] + 0.5)) for w in ws)
        return total / math.sqrt(len(ws))

    return [p.id for p in sorted(candidates, key=lambda p: (-score(p), p.id))]


def make_model_ranker(embed: CachedEmbed) -> Callable[[list[Paper], list[Liked]], list[str]]:
    def rank(candidates: list[Paper], history: list[Liked]) -> list[str]:
        model = InterestModel(history, embed)
        return [r.paper.id for r in model.rank(candidates, explain=False)]

    return rank


def days_with_positives(corpus, hf_ids: set[str], lo: date, hi: date) -> list[date]:  # noqa: ANN001
    return [
        d for d in sorted(corpus)
        if lo <= d < hi and len(corpus[d]) >= 50 and any(p.id in hf_ids for p in corpus[d])
    ]  # fmt: skip


def history_for(hf: list[tuple[Paper, int, date]], day: date, exclude: set[str]) -> list[Liked]:
    lo = day - timedelta(days=curation.HISTORY_DAYS)
    return [Liked(p, up, d) for p, up, d in hf if lo <= d < day and p.id not in exclude]


def evaluate(days, corpus, hf, hf_ids, rankers) -> dict[str, list[tuple[float, float]]]:  # noqa: ANN001
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in rankers}
    for day in days:
        candidates = corpus[day]
        ids = {p.id for p in candidates}
        positives = ids & hf_ids
        history = history_for(hf, day, ids)
        for name, rank in rankers.items():
            order = rank(candidates, history)
            p10 = len(set(order[:10]) & positives) / 10
            r50 = len(set(order[:50]) & positives) / len(positives)
            scores[name].append((p10, r50))
    return scores


def bootstrap(values: Sequence[float], n: int = 2000, seed: int = 7) -> tuple[float, float, float]:
    rng = random.Random(seed)
    k = len(values)
    means = sorted(sum(values[rng.randrange(k)] for _ in range(k)) / k for _ in range(n))
    return sum(values) / k, means[int(0.025 * n)], means[int(0.975 * n)]


def report(title: str, scores: dict[str, list[tuple[float, float]]], ours: str) -> None:
    print(f"\n{title} ({len(next(iter(scores.values())))} days)")
    print("| ranker | precision@10 (95% CI) | recall@50 (95% CI) |")
    print("|---|---|---|")
    for name, vals in scores.items():
        p = bootstrap([v[0] for v in vals])
        r = bootstrap([v[1] for v in vals])
        print(
            f"| {name} | {p[0]:.3f} ({p[1]:.3f}-{p[2]:.3f}) | {r[0]:.3f} ({r[1]:.3f}-{r[2]:.3f}) |"
        )
    for name, vals in scores.items():
        if name == ours:
            continue
        dp = bootstrap([a[0] - b[0] for a, b in zip(scores[ours], vals, strict=True)])
        dr = bootstrap([a[1] - b[1] for a, b in zip(scores[ours], vals, strict=True)])
        print(
            f"| {ours} - {name} (paired) | {dp[0]:+.3f} ({dp[1]:+.3f} to {dp[2]:+.3f}) "
            f"| {dr[0]:+.3f} ({dr[1]:+.3f} to {dr[2]:+.3f}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = next(
        (d for d in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
         if d.is_dir()),
        ROOT.parent / "shared" / "data",
    )  # fmt: skip
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--tune", action="store_true", help="grid-search weights on training days")
    parser.add_argument("--every", type=int, default=1, help="use every Nth day (speed)")
    args = parser.parse_args()
    started = time.perf_counter()
    corpus, _, hf = load(args.data)
    hf_ids = {p.id for p, _, _ in hf}
    train = days_with_positives(corpus, hf_ids, START, SPLIT)[:: args.every]
    test = days_with_positives(corpus, hf_ids, SPLIT, date(2100, 1, 1))[:: args.every]
    print(f"loaded in {time.perf_counter() - started:.0f}s: {len(train)} training days "
          f"(< {SPLIT}), {len(test)} held-out days", file=sys.stderr)  # fmt: skip
    embed = CachedEmbed()
    texts = [curation.paper_text(p) for d in train + test for p in corpus[d]]
    texts += [curation.paper_text(p) for p, _, _ in hf]
    embed.prefill(texts)
    rankers = {
        "newest first": newest_first,
        "keyword match to past titles": keyword_match,
        "paperfeed curation": make_model_ranker(embed),
    }
    if args.tune:
        grid = [
            (ws, wa, wc)
            for ws in (1.0,)
            for wa in (0.0, 0.05, 0.15, 0.3)
            for wc in (0.0, 0.05, 0.15)
        ]
        for ws, wa, wc in grid:
            curation.W_SIMILAR, curation.W_AUTHORS, curation.W_CATEGORY = ws, wa, wc
            s = evaluate(train, corpus, hf, hf_ids, {"m": make_model_ranker(embed)})["m"]
            p = sum(v[0] for v in s) / len(s)
            r = sum(v[1] for v in s) / len(s)
            print(f"train  W=({ws}, {wa}, {wc}): P@10 {p:.3f}  R@50 {r:.3f}")
        return
    report("Training days", evaluate(train, corpus, hf, hf_ids, rankers), "paperfeed curation")
    report("Held-out days", evaluate(test, corpus, hf, hf_ids, rankers), "paperfeed curation")
    print(f"\n{time.perf_counter() - started:.0f}s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
