"""The search service: the one object the CLI, the web app and the digest call.

    service = SearchService(store, settings)          # or open_search(settings, store)
    results = service.search("upper bound", limit=10, filters=Filters(has_code=True),
                             sort="relevance")       # -> SearchResults (iterable of Hit)
    service.similar("2509.17971", limit=6)           # -> SearchResults
    service.status()                                  # -> IndexStatus (what is pending)
    service.rebuild(progress=callback)                # blocks until both indexes are complete
    service.close()

A query runs as a pipeline of small stages: parse (quotes -> phrases, the rest -> analyzed
terms; nothing is ever parsed as syntax) -> keyword top-100 (tantivy BM25, filters applied
in the index) -> query vector -> ANN top-20 candidates (filtered) -> cosine of every
candidate -> fuse (keyword/top + weight x cosine) -> re-rank the top 20 by query coverage
(share of the query's terms, IDF-weighted, and of its adjacent term pairs found in the
paper) -> sort -> top-k -> papers and snippets.

Indexes live under `<data_dir>/index/` as plain files: `keyword/` (tantivy), `rows.txt`
(paper id per row), `vectors.f16` (float16 rows), `ann.usearch`, and `state.json` holding the
store change sequence each index has caught up to. They are derived from the store and
rebuilt from it whenever they lag, disagree with it, or were made by another embedder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np

from paperfeed.errors import BadRequest, NotFound
from paperfeed.models import StoredPaper
from paperfeed.search.embed import Embedder, StaticEmbedder, TorchEmbedder, paper_text
from paperfeed.search.fusion import DENSE_WEIGHT, coverage_features, fuse, rerank_coverage
from paperfeed.search.keyword import (
    MAX_QUERY_CHARS,
    Filters,
    IndexDoc,
    KeywordIndex,
    analyze,
    parse_query,
)
from paperfeed.search.snippets import Span, spans, to_html
from paperfeed.search.vectors import RowMap, VectorStore
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

Sort = Literal["relevance", "date", "upvotes"]
SORTS: tuple[str, ...] = ("relevance", "date", "upvotes")
KEYWORD_CANDIDATES = 100
DENSE_CANDIDATES = 20
COVERAGE_TOP = 20  # the fused top N that the coverage stage re-ranks
EXACT_BELOW = 20_000  # below this many vectors, nearest neighbours are computed exactly
FOREGROUND_EMBED = (
    20_000  # at start-up, embed this much lag before answering; more goes to the worker
)
STATE_VERSION = 1
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: the paper, its score parts, and a highlighted snippet of its abstract."""

    paper_id: str
    score: float
    keyword: float = 0.0
    dense: float = 0.0
    paper: StoredPaper | None = None
    snippet: tuple[Span, ...] = ()

    @property
    def snippet_html(self) -> str:
        """Escaped HTML with matched words in <mark> (safe to insert as markup)."""
        return to_html(self.snippet)


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Hits best first (iterate over it), plus how the query was answered."""

    query: str
    hits: list[Hit]
    mode: str  # "hybrid", "keyword" (no vectors yet) or "meaning" (no keyword terms)
    vectors_pending: int = 0

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    store_seq: int
    keyword_seq: int
    vector_seq: int
    keyword_pending: int
    vectors_pending: int
    papers_indexed: int
    vectors: int
    embedder: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class IndexState:
    """What `state.json` records: how far each index has followed the store."""

    keyword_seq: int = 0
    vector_seq: int = 0
    embedder: str = ""
    dim: int = 0
    version: int = STATE_VERSION

    @classmethod
    def read(cls, path: Path) -> IndexState:
        try:
            data = json.loads(path.read_text())
            return cls(
                **{k: data[k] for k in ("keyword_seq", "vector_seq", "embedder", "dim", "version")}
            )
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)


def make_embedder(name: str) -> Embedder:
    """The embedder a setting names: 'static' (bundled) or 'transformer' (optional extra)."""
    if name == "static":
        return StaticEmbedder()
    if name in ("transformer", "torch"):
        return TorchEmbedder()
    raise BadRequest(f"unknown embedder {name!r}: use 'static' or 'transformer'")


def index_doc(row: int, item: StoredPaper) -> IndexDoc:
    p = item.paper
    day = p.published.date() if p.published else p.listing_date
    return IndexDoc(row, p.id, p.title, p.abstract, day, tuple(p.categories), p.has_code)


def sort_day(item: StoredPaper) -> date:
    p = item.paper
    return (p.published.date() if p.published else p.listing_date) or date.min


class SearchService:
    """Hybrid search over one store, with its derived indexes kept in step."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        background: bool = True,
        poll_seconds: float = 5.0,
        repair: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings
        self.dir = settings.index_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self.embedder_name = embedder.name if embedder else f"{settings.embedder}"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.poll_seconds = poll_seconds
        self.progress: tuple[int, int] = (0, 0)  # vectors embedded / to embed in the current pass
        self._unsaved_vectors = False  # ANN rows added in memory, not yet saved
        self._open_indexes()
        if repair:
            self.repair()
        if background:
            self.start_worker()

    # --- files -------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def _open_indexes(self) -> None:
        self.state = IndexState.read(self.state_path)
        self._state_mtime = self._mtime()
        self.keyword = KeywordIndex(self.dir / "keyword")
        self.rowmap = RowMap(self.dir / "rows.txt")
        self._vectors: VectorStore | None = None

    def _mtime(self) -> float:
        try:
            return self.state_path.stat().st_mtime
        except OSError:
            return 0.0

    def _refresh(self) -> None:
        """Follow index writes made by another process (e.g. `paperfeed ingest`)."""
        mtime = self._mtime()
        if mtime != self._state_mtime:
            self._state_mtime = mtime
            self.state = IndexState.read(self.state_path)
            self.rowmap.refresh()
            self.keyword._searcher = None
            if self._vectors is not None and self._vectors.changed_on_disk() and not self._busy():
                self._vectors = None

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time, across threads and processes."""
        with self._lock, open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self.state = IndexState.read(self.state_path)
                self.rowmap.refresh()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _busy(self) -> bool:
        """Whether this process is writing (its in-memory ANN may be ahead of the file)."""
        if self._unsaved_vectors or not self._lock.acquire(blocking=False):
            return True
        self._lock.release()
        return False

    def _save_state(self) -> None:
        self.state.write(self.state_path)
        self._state_mtime = self._mtime()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings.embedder)
            self.embedder_name = self._embedder.name
        return self._embedder

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            self._vectors = VectorStore(self.dir, self.state.dim or self.embedder.dim)
        return self._vectors

    # --- keeping up with the store -------------------------------------------------------

    def repair(self) -> None:
        """Detect indexes that disagree with the store and bring them back in step."""
        store_seq = self.store.last_seq()
        with self._writing():
            st = self.state
            broken = (
                st.version != STATE_VERSION
                or st.keyword_seq > store_seq  # a different or restored database
                or st.vector_seq > store_seq
                or (st.keyword_seq == 0 and len(self.rowmap) > 0)
                or self.keyword.num_docs() > len(self.rowmap)
            )
            if broken:
                log.warning("search indexes disagree with the store: rebuilding them")
                self._wipe(keyword=True)
            elif st.embedder and st.embedder != self.embedder.name:
                log.warning(
                    "embedder changed (%s -> %s): re-embedding", st.embedder, self.embedder.name
                )
                self._wipe(keyword=False)
        self.sync_keyword()
        if self.store.count_changes_since(self.state.vector_seq) <= FOREGROUND_EMBED:
            self.sync_vectors()

    def _wipe(self, *, keyword: bool) -> None:
        if keyword:
            self.keyword = KeywordIndex.create_empty(self.dir / "keyword")
            (self.dir / "rows.txt").unlink(missing_ok=True)
            self.rowmap = RowMap(self.dir / "rows.txt")
            self.state.keyword_seq = 0
        for name in ("vectors.f16", "ann.usearch"):
            (self.dir / name).unlink(missing_ok=True)
        self._vectors = None
        self.state.vector_seq = 0
        self.state.embedder = self.embedder.name
        self.state.dim = self.embedder.dim
        self.state.version = STATE_VERSION
        self._save_state()

    def sync_keyword(self, *, batch: int = 20_000, progress: Progress | None = None) -> int:
        """Catch the keyword index up with the store; returns how many papers were indexed."""
        n = sync_keyword(self.store, self.dir, progress=progress, batch=batch, lock=self._writing)
        self.state = IndexState.read(self.state_path)
        self._state_mtime = self._mtime()
        self.rowmap.refresh()
        self.keyword._searcher = None
        return n

    def sync_vectors(
        self, *, batch: int = 512, progress: Progress | None = None, max_papers: int | None = None
    ) -> int:
        """Embed papers changed since the vector index's sequence; returns how many.

        Vectors reach disk batch by batch; the ANN file and `vector_seq` every 30 s and at
        the end, so a killed run resumes from the last saved sequence.
        """
        done = 0
        cursor = self.state.vector_seq
        total = self.store.count_changes_since(cursor)
        if max_papers is not None:
            total = min(total, max_papers)
        self.progress = (0, total)
        unsaved: int | None = None
        last_save = time.monotonic()
        while not self._stop.is_set():
            with self._writing():
                if self._vectors is not None and self._vectors.changed_on_disk():
                    self._vectors = None  # another process saved: continue from its state
                    cursor, unsaved = self.state.vector_seq, None
                if not self.state.embedder:
                    self.state.embedder, self.state.dim = self.embedder.name, self.embedder.dim
                changes = self.store.changes_since(cursor, limit=batch)
                if changes:
                    rows = self.rowmap.assign([c.paper.id for c in changes])
                    texts = [paper_text(c.paper.title, c.paper.abstract) for c in changes]
                    self.vectors.write(rows, self.embedder.embed(texts))
                    cursor = unsaved = changes[-1].seq
                    self._unsaved_vectors = True
                    done += len(changes)
                    self.progress = (done, max(total, done))
                finished = len(changes) < batch or (max_papers is not None and done >= max_papers)
                if unsaved is not None and (finished or time.monotonic() - last_save > 30):
                    self.vectors.save()
                    self.state.vector_seq = unsaved
                    self._save_state()
                    unsaved, last_save = None, time.monotonic()
                    self._unsaved_vectors = False
            if progress and changes:
                progress("vectors", done, max(total, done))
            if finished:
                break
        if unsaved is not None:  # stopped early: keep what was done
            with self._writing():
                if self._vectors is not None and not self._vectors.changed_on_disk():
                    self.vectors.save()
                    self.state.vector_seq = max(self.state.vector_seq, unsaved)
                    self._save_state()
        self._unsaved_vectors = False
        return done

    def rebuild(self, *, progress: Progress | None = None) -> IndexStatus:
        """Throw both indexes away and rebuild them from the store; blocks until complete."""
        self.stop_worker()
        with self._writing():
            self._wipe(keyword=True)
        self.sync_keyword(progress=progress)
        self._stop.clear()
        self.sync_vectors(progress=progress)
        return self.status()

    def status(self) -> IndexStatus:
        self._refresh()
        st = self.state
        return IndexStatus(
            store_seq=self.store.last_seq(),
            keyword_seq=st.keyword_seq,
            vector_seq=st.vector_seq,
            keyword_pending=self.store.count_changes_since(st.keyword_seq),
            vectors_pending=self.store.count_changes_since(st.vector_seq),
            papers_indexed=self.keyword.num_docs(),
            vectors=len(self.vectors.ann),
            embedder=st.embedder or self.embedder_name,
        )

    # --- background worker ---------------------------------------------------------------

    def start_worker(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="paperfeed-embedder", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh()
                if self.store.count_changes_since(self.state.keyword_seq):
                    self.sync_keyword()
                if self.store.count_changes_since(self.state.vector_seq):
                    n = self.sync_vectors(progress=_log_progress())
                    log.info("search: embedded %d papers", n)
            except Exception:  # keep serving; the next round retries
                log.exception("search indexing failed")
            self._stop.wait(self.poll_seconds)

    def stop_worker(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=60)
        self._worker = None

    def close(self) -> None:
        self.stop_worker()

    # --- queries -------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        filters: Filters | None = None,
        sort: str = "relevance",
        with_papers: bool = True,
    ) -> SearchResults:
        """Best papers for `query`; raises BadRequest for an empty query or a bad sort."""
        text = (query or "").strip()[:MAX_QUERY_CHARS]
        if not text:
            raise BadRequest("empty query: type a few words to search for")
        if sort not in SORTS:
            raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
        limit = max(1, min(int(limit), 1000))
        self._refresh()
        parsed = parse_query(text)
        kw = self.keyword.search(parsed, limit=max(KEYWORD_CANDIDATES, limit), filters=filters)
        dense: dict[int, float] = {}
        has_vectors = len(self.vectors.ann) > 0
        if has_vectors and any(ch.isalnum() for ch in text):
            qvec = self.embedder.embed([text])[0]
            extra = [
                r
                for r, _ in self._nearest(
                    qvec, DENSE_CANDIDATES if parsed else max(limit, DENSE_CANDIDATES)
                )
            ]
            if filters and extra:
                allowed = self.keyword.rows_matching(extra, filters)
                extra = [r for r in extra if r in allowed]
            if parsed.phrases:  # a quoted phrase must match: keyword candidates only
                extra = []
            dense = self.vectors.scores(list(dict.fromkeys([*kw.rows, *extra])), qvec)
        weight = getattr(self.embedder, "fusion_weight", DENSE_WEIGHT) if dense else DENSE_WEIGHT
        fused = fuse(kw.rows, kw.scores, dense, weight=weight)
        mode = "hybrid" if dense and kw.rows else ("meaning" if dense else "keyword")
        papers: dict[str, StoredPaper] = {}
        cover_w, bigram_w = getattr(self.embedder, "coverage_weights", (0.0, 0.0))
        if dense and parsed.terms and (cover_w or bigram_w):
            top = [(r, self._paper_id(r)) for r in fused.rows[:COVERAGE_TOP]]
            papers = {p.paper.id: p for p in self.store.get_papers([pid for _, pid in top if pid])}
            searcher = self.keyword.searcher
            n_docs = max(int(searcher.num_docs), 1)
            idf = {
                t: float(np.log(n_docs / (1 + searcher.doc_freq("text", t)))) for t in parsed.terms
            }
            features = {
                r: coverage_features(
                    parsed.terms,
                    idf,
                    analyze(f"{papers[pid].paper.title}\n{papers[pid].paper.abstract}"),
                )
                for r, pid in top
                if pid in papers
            }
            fused = rerank_coverage(fused, features, cover_weight=cover_w, bigram_weight=bigram_w)
        pool = [
            (self._paper_id(r), score, k, d)
            for r, score, k, d in zip(
                fused.rows, fused.scores, fused.keyword, fused.dense, strict=False
            )
        ]
        pool = [t for t in pool if t[0]]  # rows another process added a moment ago
        if sort == "relevance":
            pool = pool[:limit]
        need_papers = with_papers or sort != "relevance"
        if need_papers:
            missing = [t[0] for t in pool if t[0] not in papers]
            papers.update({p.paper.id: p for p in self.store.get_papers(missing)})
        if sort == "date":
            pool.sort(
                key=lambda t: sort_day(papers[t[0]]) if t[0] in papers else date.min, reverse=True
            )
        elif sort == "upvotes":
            pool.sort(key=lambda t: papers[t[0]].upvotes if t[0] in papers else -1, reverse=True)
        terms = parsed.all_terms
        hits = []
        for pid, score, k, d in pool[:limit]:
            # (the coverage stage may have read papers: attach them, and make snippets, only
            # where the caller asked for papers, as without it)
            item = papers.get(pid) if need_papers else None
            if with_papers and item is None:
                continue  # in the index but gone from the store
            snippet = tuple(spans(item.paper.abstract, terms)) if item is not None else ()
            hits.append(Hit(pid, score, k, d, item, snippet))
        pending = self.store.count_changes_since(self.state.vector_seq) if not has_vectors else 0
        return SearchResults(text, hits, mode, pending)

    def _paper_id(self, row: int) -> str:
        """The paper id of a row ('' for a row this process has not seen yet)."""
        if row >= len(self.rowmap):
            self.rowmap.refresh()
        return self.rowmap.ids[row] if row < len(self.rowmap) else ""

    def _nearest(self, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        vs = self.vectors
        if len(vs.ann) <= EXACT_BELOW:
            m = vs.matrix32()  # cached float32 copy (at most EXACT_BELOW x dim)
            if not len(m):
                return []
            sims = m @ qvec
            top = np.argsort(-sims)[:k]
            return [(int(r), float(sims[r])) for r in top if sims[r] != 0]
        return vs.nearest(qvec, k)

    def similar(self, paper_id: str, *, limit: int = 10) -> SearchResults:
        """Papers closest in meaning to `paper_id` (not including it)."""
        self._refresh()
        item = self.store.get_paper(paper_id)
        if item is None:
            raise NotFound(f"no paper {paper_id!r} in the catalogue")
        row = self.rowmap.rows.get(paper_id)
        vec = self.vectors.vector(row) if row is not None else None
        if vec is None:
            vec = self.embedder.embed([paper_text(item.paper.title, item.paper.abstract)])[0]
        near = [(r, s) for r, s in self._nearest(vec, limit + 1) if r != row][:limit]
        ids = [self._paper_id(r) for r, _ in near]
        papers = {p.paper.id: p for p in self.store.get_papers(ids)}
        hits = [
            Hit(pid, s, 0.0, s, papers[pid])
            for pid, (_, s) in zip(ids, near, strict=False)
            if pid in papers
        ]
        return SearchResults(item.paper.title, hits, "meaning")


def _log_progress() -> Progress:
    """Progress as plain log lines, one per 10% (the background worker has no terminal)."""
    last = [-1]

    def report(phase: str, done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if tenth != last[0]:
            last[0] = tenth
            log.info("search: %s %d/%d", phase, done, total)

    return report


def sync_keyword(
    store: Store,
    index_dir: Path,
    *,
    batch: int = 20_000,
    progress: Progress | None = None,
    lock: Callable[[], AbstractContextManager[None]] | None = None,
) -> int:
    """Catch the keyword index in `index_dir` up with the store's change sequence."""
    index_dir.mkdir(parents=True, exist_ok=True)
    total = None
    done = 0
    while True:
        ctx = _file_lock(index_dir) if lock is None else lock()
        with ctx:
            state = IndexState.read(index_dir / "state.json")
            if total is None:
                total = store.count_changes_since(state.keyword_seq)
            changes = store.changes_since(state.keyword_seq, limit=batch)
            if not changes:
                return done
            rows = RowMap(index_dir / "rows.txt").assign([c.paper.id for c in changes])
            KeywordIndex(index_dir / "keyword").add(
                index_doc(r, c) for r, c in zip(rows, changes, strict=False)
            )
            state.keyword_seq = changes[-1].seq
            state.write(index_dir / "state.json")
            done += len(changes)
            if progress:
                progress("keyword", done, max(total, done))


@contextmanager
def _file_lock(index_dir: Path) -> Iterator[None]:
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sync_keyword_index(store: Store, settings: Settings) -> int:
    """Make newly ingested papers findable by keyword at once (called after every ingest)."""
    return sync_keyword(store, settings.index_dir)


def open_search(settings: Settings, store: Store, *, background: bool = True) -> SearchService:
    """The service the web app attaches at start-up (repairs lag, then embeds in background)."""
    return SearchService(store, settings, background=background)


def remove_index(settings: Settings) -> None:
    shutil.rmtree(settings.index_dir, ignore_errors=True)
