""" "For you": recent papers ranked for one reader, each with a reason they can check.

The reader's model (`paperfeed.recommend.model`) is trained on what they kept (upvotes,
saves, read marks) against what they dismissed and a background sample, and kept in memory
under a stamp of their signals (`Store.reader_stamp`), follows and the catalogue's change
sequence: it is retrained when any of those changes, never per request. Web pages never
wait for training (`recommend_now`): it runs on a background thread while the previous list
(or the cold-start list) is served with an "updating" note, less the papers dismissed or
kept since, so "not interested" takes effect at once.

Cold start (nothing kept yet): new papers from followed authors and categories, then trending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from paperfeed.clock import CatalogueClock
from paperfeed.models import Collection, Follow, StoredPaper, User
from paperfeed.recommend.model import Pool, ReaderModel, features, shared_terms, term_counts, train
from paperfeed.search.dense import unit_mean
from paperfeed.search.embed import paper_text
from paperfeed.store import Store
from paperfeed.trending import trending

log = logging.getLogger(__name__)

WINDOW = timedelta(days=30)  # "recent": listed in the catalogue's last 30 active days
MAX_CANDIDATES = 3000
MAX_KEPT = 500  # the newest kept papers train the model (a 10k-paper library stays fast)
MORE_LIKE_FROM = 200  # "more like this collection": its centroid is of its newest saves
MAX_LIMIT = 100
CACHE_READERS = 256


@dataclass(slots=True)
class Reason:
    """Why a paper is recommended, in terms a person can check."""

    text: str
    closest: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "closest": self.closest, "terms": self.terms}


@dataclass(slots=True)
class Recommendation:
    item: StoredPaper
    score: float
    reason: Reason


@dataclass(slots=True)
class _Trained:
    key: tuple[Any, ...]
    ranked: list[Recommendation]


def default_since(store: Store) -> date:
    """The first of the catalogue's last 30 active days (`paperfeed.clock`)."""
    return CatalogueClock.load(store, days=WINDOW.days).window_start


class Recommender:
    """Ranks recent papers for readers; one per app (thread-safe), models cached per reader."""

    def __init__(self, store: Store, search: Any = None, embedder: Any = None) -> None:
        self.store = store
        self.search = search
        self._embedder = embedder
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, _Trained] = OrderedDict()
        self._terms: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._similar: OrderedDict[tuple[Any, ...], list[StoredPaper]] = OrderedDict()
        self.trainings = 0  # how many models were trained (tests check reuse)
        self._since: tuple[tuple[int, date], date] | None = None
        # one background trainer: trainings queue rather than compete for the CPU
        self._training: dict[int, tuple[Any, ...]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recommend")

    # -- vectors and words ------------------------------------------------------------------

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            if self.search is not None:
                self._embedder = self.search.embedder
            else:
                from paperfeed.search.embed import make_embedder

                self._embedder = make_embedder("static")
        return self._embedder

    def vectors(self, items: Sequence[StoredPaper]) -> np.ndarray:
        """The search index's static embedding of each paper (`SearchService.static_vectors`);
        papers not embedded yet are embedded. (The transformer's vectors, in their place, did
        no better for "for you": benchmarks/RESULTS.md, *Static or transformer vectors*.)"""
        if self.search is not None:
            try:
                self.search.indexer.refresh()
                return np.asarray(self.search.static_vectors(items), dtype=np.float32)
            except Exception:  # a damaged or missing index: embed everything instead
                log.exception("recommend: reading search vectors failed")
        out = np.zeros((len(items), self.embedder.dim), dtype=np.float32)
        if items:
            out[:] = self.embedder.embed(
                [paper_text(i.paper.title, i.paper.abstract) for i in items]
            )
        return out

    def counts(self, item: StoredPaper) -> Any:
        key = (item.paper.id, item.seq)
        found = self._terms.get(key)
        if found is None:
            found = term_counts(item.paper.title, item.paper.abstract)
            self._terms[key] = found
            if len(self._terms) > 50_000:
                self._terms.popitem(last=False)
        return found

    # -- the list ----------------------------------------------------------------------------

    def default_since(self) -> date:
        """`default_since`, read again only when the catalogue changes."""
        key = (self.store.last_seq(), date.today())
        if self._since is None or self._since[0] != key:
            self._since = (key, default_since(self.store))
        return self._since[1]

    def candidates(self, user: User, since: date, follows: list[Follow]) -> list[StoredPaper]:
        items = self.store.recent_daily(since=since, limit=MAX_CANDIDATES)
        if follows:
            items += self.store.followed_papers(user.id, since=since, limit=500)
        return list({i.paper.id: i for i in items}.values())

    def _key(self, user: User, since: date) -> tuple[Any, ...]:
        """What a trained list depends on; cheap to read on every request."""
        follows = tuple((f.kind, f.value) for f in self.store.list_follows(user.id))
        return (self.store.reader_stamp(user.id), follows, since, self.store.last_seq())

    def _cached(self, user: User, key: tuple[Any, ...]) -> list[Recommendation] | None:
        with self._lock:
            cached = self._cache.get(user.id)
            if cached is not None and cached.key == key:
                self._cache.move_to_end(user.id)
                return cached.ranked
        return None

    def _train(self, user: User, key: tuple[Any, ...], since: date) -> list[Recommendation]:
        """Train the reader's model (seconds for a big library) and cache its list."""
        signals = self.store.reader_signals(user.id)
        follows = self.store.list_follows(user.id)
        kept = signals.positives[:MAX_KEPT]
        if kept:
            ranked = self._rank(user, kept, signals.dismissed, follows, since)
        else:
            ranked = self._cold_start(user, set(signals.dismissed), follows, since)
        with self._lock:
            self.trainings += 1
            self._cache[user.id] = _Trained(key, ranked)
            self._cache.move_to_end(user.id)
            while len(self._cache) > CACHE_READERS:
                self._cache.popitem(last=False)
        return ranked

    def recommend(
        self, user: User, *, limit: int = 20, since: date | None = None
    ) -> list[Recommendation]:
        """The reader's ranked list of recent papers, best first, each with its reason;
        trains here when the reader's signals changed (the CLI and the digest wait for it)."""
        since = since or self.default_since()
        limit = max(1, min(limit, MAX_LIMIT))
        key = self._key(user, since)
        ranked = self._cached(user, key)
        if ranked is None:
            ranked = self._train(user, key, since)
        return ranked[:limit]

    def recommend_now(
        self, user: User, *, limit: int = 20, since: date | None = None
    ) -> tuple[list[Recommendation], bool]:
        """The list without waiting for training (web requests): `(list, updating)`.

        When the reader's signals changed since the last training, the model is retrained
        in the background and, meanwhile, the previous list is served (or, before the first
        training, the cold-start list), without the papers now dismissed or kept: "not
        interested" still takes effect at once. `updating` says a newer list is coming."""
        since = since or self.default_since()
        limit = max(1, min(limit, MAX_LIMIT))
        key = self._key(user, since)
        ranked = self._cached(user, key)
        if ranked is not None:
            return ranked[:limit], False
        signals = self.store.reader_signals(user.id)
        if not signals.positives:  # nothing to learn from: the cold-start list, at once
            return self._train(user, key, since)[:limit], False
        self._train_in_background(user, key, since)
        with self._lock:
            stale = self._cache.get(user.id)
        gone = set(signals.dismissed) | set(signals.positives)
        if stale is not None:
            previous = stale.ranked
        else:
            follows = self.store.list_follows(user.id)
            previous = self._cold_start(user, set(signals.dismissed), follows, since)
        return [r for r in previous if r.item.paper.id not in gone][:limit], True

    def _train_in_background(self, user: User, key: tuple[Any, ...], since: date) -> None:
        """Queue training `user`'s model for `key` unless it is queued already; a queued
        training that newer signals overtook is skipped (only the newest one runs)."""
        with self._lock:
            if self._training.get(user.id) == key:
                return
            self._training[user.id] = key

        def run() -> None:
            with self._lock:
                if self._training.get(user.id) != key:
                    return  # overtaken by newer signals: their training is queued
            try:
                self._train(user, key, since)
            except Exception:  # the next request tries again; the page keeps working
                log.exception("recommend: background training for reader %d failed", user.id)
            finally:
                with self._lock:
                    if self._training.get(user.id) == key:
                        del self._training[user.id]

        self._pool.submit(run)

    def wait_for_training(self, timeout: float = 60.0) -> bool:
        """Block until no background training is queued or running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._training:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Stop the background trainer (running training finishes first)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _rank(
        self,
        user: User,
        kept_ids: list[str],
        dismissed_ids: list[str],
        follows: list[Follow],
        since: date,
    ) -> list[Recommendation]:
        exclude = set(kept_ids) | set(dismissed_ids)
        cands = [c for c in self.candidates(user, since, follows) if c.paper.id not in exclude]
        kept = self.store.get_papers(kept_ids)
        dismissed = self.store.get_papers(dismissed_ids[:MAX_KEPT])
        items = cands + kept + dismissed
        if not cands or not kept:
            return self._cold_start(user, set(dismissed_ids), follows, since)
        followed_authors = [f.value for f in follows if f.kind == "author"]
        authors = [list(i.paper.authors) for i in items]
        pool = Pool.build(
            [i.paper.id for i in items],
            self.vectors(items),
            [self.counts(i) for i in items],
            authors,
            [i.upvotes for i in items],
        )
        n_c, n_k = len(cands), len(kept)
        model = train(
            pool, list(range(n_c, n_c + n_k)), list(range(n_c + n_k, len(items))), seed=user.id
        )
        for name in followed_authors:  # a followed author counts as two kept papers of theirs
            model.authors[name.lower()] += 2
        f = features(model, pool, list(range(n_c)))
        scores = f.blend()
        order = np.argsort(-scores)[:MAX_LIMIT]
        titles = {i.paper.id: i.paper.title for i in kept}
        return [
            Recommendation(
                cands[i], float(scores[i]), _reason(pool, model, f.closest[i], int(i), titles)
            )
            for i in order
        ]

    def _cold_start(
        self, user: User, dismissed: set[str], follows: list[Follow], since: date
    ) -> list[Recommendation]:
        out: list[Recommendation] = []
        seen = set(dismissed)
        if follows:
            cats = {f.value for f in follows if f.kind == "category"}
            names = {f.value.lower(): f.value for f in follows if f.kind == "author"}
            for item in self.store.followed_papers(user.id, since=since, limit=MAX_LIMIT):
                if item.paper.id in seen:
                    continue
                seen.add(item.paper.id)
                by = [names[a.lower()] for a in item.paper.authors if a.lower() in names]
                if by:
                    text = f"New from {', '.join(by[:2])}, whom you follow"
                else:
                    cat = next((c for c in item.paper.categories if c in cats), "")
                    text = f"New in {cat}, which you follow"
                out.append(Recommendation(item, 0.0, Reason(text)))
        for t in trending(self.store, limit=MAX_LIMIT):
            if t.item.paper.id not in seen:
                seen.add(t.item.paper.id)
                text = f"Trending: {t.item.upvotes} upvotes ({t.explain()})"
                out.append(Recommendation(t.item, t.score, Reason(text)))
        return out[:MAX_LIMIT]

    # -- more like this --------------------------------------------------------------------

    def more_like(
        self,
        items: Sequence[StoredPaper],
        *,
        limit: int = 6,
        since: date | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
    ) -> list[StoredPaper]:
        """Papers closest to `items` taken together (a collection), not among them nor in
        `exclude` (the rest of the collection): the search index's nearest papers to their
        mean vector (`SearchService.nearest`, the vectors "similar papers" use)."""
        if not items:
            return []
        if self.search is not None:
            try:
                found = self.search.nearest(items, limit=limit, exclude=exclude)
                if found.hits:
                    return [h.paper for h in found.hits if h.paper is not None]
            except Exception:
                log.exception("recommend: nearest-neighbour search failed")
        # no vector index yet: rank the recent papers by the static model instead
        centroid = unit_mean(self.vectors(items))
        if centroid is None:
            return []
        members = {i.paper.id for i in items} | exclude
        pool = self.store.recent_daily(
            since=since or default_since(self.store), limit=MAX_CANDIDATES
        )
        pool = [p for p in pool if p.paper.id not in members]
        if not pool:
            return []
        sims = self.vectors(pool) @ centroid
        return [pool[i] for i in np.argsort(-sims)[:limit]]

    def more_like_collection(self, collection: Collection, *, limit: int = 6) -> list[StoredPaper]:
        """`more_like` the collection's newest saves, leaving out every paper it holds; kept
        until the collection, the catalogue or the search index changes (a 10k-paper
        collection's page reads it on every view)."""
        key = (
            collection.id,
            collection.paper_count,
            collection.updated_at,
            limit,
            self.store.last_seq(),
            self.search.generation() if self.search is not None else None,
        )
        with self._lock:
            found = self._similar.get(key)
        if found is not None:
            return found
        items = self.store.collection_papers(collection.id, limit=MORE_LIKE_FROM)
        exclude = self.store.collection_paper_ids(collection.id) if items else set()
        found = self.more_like(items, limit=limit, exclude=exclude)
        with self._lock:
            self._similar[key] = found
            while len(self._similar) > CACHE_READERS:
                self._similar.popitem(last=False)
        return found


def _short(title: str) -> str:
    return title if len(title) <= 80 else title[:77] + "..."


def _reason(
    pool: Pool, model: ReaderModel, closest: np.ndarray, row: int, titles: dict[str, str]
) -> Reason:
    """The two kept papers closest to the candidate, the words it shares with them, and any
    author the reader has kept or follows."""
    near = [int(r) for r in closest[:2]]
    ids = [pool.ids[r] for r in near]
    terms = shared_terms(pool, row, near, n=5)
    authors = [a for a in pool.authors[row] if model.authors.get(a.lower())][:2]
    names = " and ".join(f"\u201c{_short(titles.get(i, i))}\u201d" for i in ids)
    text = f"Close to {names}, which you kept"
    if terms:
        text += "; shares the terms " + ", ".join(terms)
    if authors:
        text += "; by " + ", ".join(authors)
    return Reason(text, ids, terms)
