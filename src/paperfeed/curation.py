"""The curation queue: a day's newly announced papers, ranked by how likely this community is
to care, each with the reasons for its rank.

The model is learnt from the community's own daily list (its upvotes and submissions) of the
`HISTORY_DAYS` before the day, nothing else:

- **similar**: the papers most like the candidate among the listed ones (cosine of the bundled
  static embeddings of title + abstract), the mean of the best `NEIGHBOURS`, each weighted by
  how much it was liked (1 + log(1 + upvotes));
- **authors**: how often the candidate's authors were on the list (log(1 + papers));
- **category**: the share of listed papers in the candidate's primary category, against the
  share among all candidates of the day (log ratio, smoothed).

`score = W_SIMILAR * similar + W_AUTHORS * authors + W_CATEGORY * category`. The weights were
chosen on the training days of `benchmarks/curation.py` only (see RESULTS.md "Curation"),
never on the days it reports.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from paperfeed.models import DailyEntry, Paper, StoredPaper
from paperfeed.settings import Settings
from paperfeed.store import Store

HISTORY_DAYS = 60
MAX_HISTORY = 5000  # listed papers learnt from
MAX_CANDIDATES = 5000  # papers of one announce day considered
AUTO_SUBMITTER = "auto-curation"
NEIGHBOURS = 5
W_SIMILAR, W_AUTHORS, W_CATEGORY = 1.0, 0.15, 0.05

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(slots=True)
class Liked:
    """A paper the community listed, with its upvotes."""

    paper: Paper
    upvotes: int
    day: date


@dataclass(slots=True)
class Ranked:
    paper: Paper
    score: float
    parts: dict[str, float]
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def paper_text(p: Paper) -> str:
    return f"{p.title}. {p.abstract}"


class InterestModel:
    """What this community cares about, from its listed papers (see the module docstring)."""

    def __init__(self, liked: Sequence[Liked], embed: Embed) -> None:
        self.liked = list(liked)
        self.embed = embed
        self.weights = np.array(
            [1.0 + math.log1p(max(x.upvotes, 0)) for x in self.liked], dtype=np.float32
        )
        self.vectors = (
            embed([paper_text(x.paper) for x in self.liked])
            if self.liked
            else np.zeros((0, 1), dtype=np.float32)
        )
        self.authors: Counter[str] = Counter(
            a.strip().lower() for x in self.liked for a in set(x.paper.authors) if a.strip()
        )
        self.categories: Counter[str] = Counter(
            x.paper.primary_category for x in self.liked if x.paper.primary_category
        )

    def rank(self, candidates: Sequence[Paper], *, explain: bool = True) -> list[Ranked]:
        """`candidates`, best first, with their score parts (and reasons when `explain`)."""
        if not candidates:
            return []
        day_cats = Counter(p.primary_category for p in candidates if p.primary_category)
        n_liked = max(sum(self.categories.values()), 1)
        out = []
        sims = self._similarities(candidates)
        for i, p in enumerate(candidates):
            similar, neighbours = sims[i]
            known = [(a, self.authors[a.strip().lower()]) for a in p.authors]
            known = [(a, n) for a, n in known if n]
            authors = math.log1p(sum(n for _, n in known))
            cat = p.primary_category
            if cat:
                liked_share = (self.categories[cat] + 1) / (n_liked + len(self.categories) + 1)
                day_share = (day_cats[cat] + 1) / (len(candidates) + len(day_cats) + 1)
                category = math.log(liked_share / day_share)
            else:
                category = 0.0
            parts = {"similar": similar, "authors": authors, "category": category}
            score = W_SIMILAR * similar + W_AUTHORS * authors + W_CATEGORY * category
            ranked = Ranked(p, score, parts)
            if explain:
                ranked.reasons = self._reasons(parts, neighbours, known, cat)
            out.append(ranked)
        out.sort(key=lambda r: (-r.score, r.paper.id))
        return out

    def _similarities(self, candidates: Sequence[Paper]) -> list[tuple[float, list[int]]]:
        if not self.liked:
            return [(0.0, []) for _ in candidates]
        vecs = self.embed([paper_text(p) for p in candidates])
        sims = vecs @ self.vectors.T  # (candidates, liked) cosines
        k = min(NEIGHBOURS, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out = []
        for i in range(len(candidates)):
            idx = top[i][np.argsort(-sims[i, top[i]])]
            w = self.weights[idx]
            value = float((sims[i, idx] * w).sum() / w.sum())
            out.append((value, [int(j) for j in idx]))
        return out

    def _reasons(
        self,
        parts: dict[str, float],
        neighbours: list[int],
        known: list[tuple[str, int]],
        category: str | None,
    ) -> list[str]:
        reasons = []
        if neighbours:
            best = self.liked[neighbours[0]]
            reasons.append(
                f"similar to \u201c{best.paper.title}\u201d ({best.upvotes} upvotes, listed "
                f"{best.day.isoformat()}); similarity {parts['similar']:.2f}"
            )
        if known:
            names = ", ".join(f"{a} ({n})" for a, n in sorted(known, key=lambda x: -x[1])[:3])
            reasons.append(f"authors listed before: {names}")
        if category and self.categories[category]:
            share = self.categories[category] / max(sum(self.categories.values()), 1)
            reasons.append(f"{category}: {share:.0%} of recently listed papers")
        if not reasons:
            reasons.append("no history yet: ranked by similarity only")
        return reasons


# --- the queue of one instance ------------------------------------------------------------


@dataclass(slots=True)
class QueueItem:
    item: StoredPaper
    ranked: Ranked


class CachingEmbed:
    """An embed function that remembers up to `size` texts' vectors (a queue is asked for
    the same day's papers again and again; each is embedded once)."""

    def __init__(self, embed: Embed, size: int = 50_000) -> None:
        self.embed, self.size = embed, size
        self.lock = threading.Lock()
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            vectors = self.embed(missing)
            with self.lock:
                for text, vec in zip(missing, vectors, strict=True):
                    self.cache[text] = vec
                while len(self.cache) > self.size:
                    self.cache.popitem(last=False)
        with self.lock:
            found = [self.cache.get(t) for t in texts]
        if any(v is None for v in found):  # evicted meanwhile: embed those again
            return self.embed(list(texts))
        return np.stack(found)  # type: ignore[arg-type]


_embedder_lock = threading.Lock()
_embedder: Embed | None = None


def default_embed() -> Embed:
    """The bundled static embedder (numpy only), loaded once per process, with a cache."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            from paperfeed.search.embed import StaticEmbedder

            _embedder = CachingEmbed(StaticEmbedder().embed)
        return _embedder


def followed_categories(store: Store, settings: Settings) -> set[str]:
    from paperfeed.ingest.harvest import followed_sources

    return {s.category for s in followed_sources(store, settings) if s.category}


def community_history(store: Store, day: date) -> list[Liked]:
    """The daily list of the `HISTORY_DAYS` before `day`'s last active day (stale-safe)."""
    before, _ = store.adjacent_daily_days(day)
    if before is None:
        return []
    items = store.daily_list(
        start=before - timedelta(days=HISTORY_DAYS - 1), end=before, limit=MAX_HISTORY
    )
    return [Liked(i.paper, i.upvotes, i.daily_day) for i in items if i.daily_day is not None]


def curation_queue(
    store: Store,
    settings: Settings,
    day: date | None = None,
    *,
    limit: int = 50,
    embed: Embed | None = None,
) -> tuple[date, list[QueueItem]]:
    """`day`'s newly announced papers (default: the newest announce), not yet on the daily
    list, from the followed categories (all categories when none is followed), best first."""
    day = day or store.latest_listing_date() or datetime.now(UTC).date()
    followed = followed_categories(store, settings)
    candidates = [
        i
        for i in store.listed_papers(day, limit=MAX_CANDIDATES)
        if i.daily_day is None and (not followed or followed.intersection(i.paper.categories))
    ]
    model = InterestModel(community_history(store, day), embed or default_embed())
    by_id = {i.paper.id: i for i in candidates}
    ranked = model.rank([i.paper for i in candidates])
    return day, [QueueItem(by_id[r.paper.id], r) for r in ranked[:limit]]


def auto_list(store: Store, settings: Settings, day: date | None = None) -> list[str]:
    """Put the top `settings.curation_auto_list` of `day`'s announcement (default: the
    newest) on today's list (0: off); the papers listed.

    At most N papers of one announcement are ever auto-listed: a harvest that finds no new
    announcement (weekends, holidays) lists nothing, rather than that announcement's next N
    (its top N left the queue when they were listed)."""
    n = settings.curation_auto_list
    if n <= 0:
        return []
    day = day or store.latest_listing_date()
    if day is None:
        return []
    done = sum(
        1
        for i in store.listed_papers(day, limit=MAX_CANDIDATES)
        if i.submitted_by == AUTO_SUBMITTER
    )
    if done >= n:
        return []
    _, queue = curation_queue(store, settings, day, limit=n - done)
    now = datetime.now(UTC)
    entries = [
        DailyEntry(
            paper_id=q.item.paper.id, day=now.date(), submitted_by=AUTO_SUBMITTER, submitted_at=now
        )
        for q in queue
    ]
    store.upsert_daily(entries)
    return [e.paper_id for e in entries]
