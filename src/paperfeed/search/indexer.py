"""The indexer: the derived search indexes under `<data_dir>/index/`, kept in step with the
store's change sequence.

One object owns the index state (`state.json`), one lock (a thread lock plus a file lock, so
one writer at a time across threads and processes), the sync from the store, start-up repair
and the background worker. Queries never write; they read through `paper_id`, `keyword`,
`vectors` and `embedder` (see `paperfeed.search.pipeline`).

Files: `keyword/` (tantivy), `rows.txt` (paper id per row), `vectors.f16` (float16 rows),
`ann.usearch`, and `state.json` holding the store change sequence each index has caught up to.
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
from pathlib import Path

from paperfeed.models import StoredPaper
from paperfeed.search.embed import Embedder, make_embedder, paper_text
from paperfeed.search.keyword import IndexDoc, KeywordIndex
from paperfeed.search.results import IndexStatus
from paperfeed.search.vectors import RowMap, VectorStore
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

FOREGROUND_EMBED = 20_000  # at start-up, embed this much lag before answering; more: worker
STATE_VERSION = 1
Progress = Callable[[str, int, int], None]  # (phase, done, total)


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


def index_doc(row: int, item: StoredPaper) -> IndexDoc:
    p = item.paper
    return IndexDoc(row, p.id, p.title, p.abstract, p.day, tuple(p.categories), p.has_code)


class Indexer:
    """The search indexes of one store: state, one lock, sync, repair, background worker."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        poll_seconds: float = 5.0,
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
        self.state = IndexState.read(self.state_path)
        self._state_mtime = self._mtime()
        self.keyword = KeywordIndex(self.dir / "keyword")
        self.rowmap = RowMap(self.dir / "rows.txt")
        self._vectors: VectorStore | None = None

    # --- files -------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def _mtime(self) -> float:
        try:
            return self.state_path.stat().st_mtime
        except OSError:
            return 0.0

    def refresh(self) -> None:
        """Follow index writes made by another process (e.g. `paperfeed ingest`)."""
        mtime = self._mtime()
        if mtime != self._state_mtime:
            self._state_mtime = mtime
            self.state = IndexState.read(self.state_path)
            self.rowmap.refresh()
            self.keyword._searcher = None
            if self._vectors is not None and self._vectors.changed_on_disk() and not self.busy():
                self._vectors = None

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time, across threads and processes."""
        with self._lock, open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self.state = IndexState.read(self.state_path)
                self.rowmap.refresh()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def busy(self) -> bool:
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

    def paper_id(self, row: int) -> str:
        """The paper id of a row ('' for a row this process has not seen yet)."""
        if row >= len(self.rowmap):
            self.rowmap.refresh()
        return self.rowmap.ids[row] if row < len(self.rowmap) else ""

    # --- keeping up with the store -------------------------------------------------------

    def repair(self) -> None:
        """Detect indexes that disagree with the store and bring them back in step."""
        store_seq = self.store.last_seq()
        with self.writing():
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
        n = sync_keyword(self.store, self.dir, progress=progress, batch=batch, lock=self.writing)
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
            with self.writing():
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
            with self.writing():
                if self._vectors is not None and not self._vectors.changed_on_disk():
                    self.vectors.save()
                    self.state.vector_seq = max(self.state.vector_seq, unsaved)
                    self._save_state()
        self._unsaved_vectors = False
        return done

    def rebuild(self, *, progress: Progress | None = None) -> IndexStatus:
        """Throw every index away and rebuild them from the store; blocks until complete."""
        self.stop_worker()
        with self.writing():
            self._wipe(keyword=True)
        self.sync_keyword(progress=progress)
        self._stop.clear()
        self.sync_vectors(progress=progress)
        return self.status()

    def status(self) -> IndexStatus:
        self.refresh()
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
        self._worker = threading.Thread(target=self._work, name="paperfeed-indexer", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
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


def remove_index(settings: Settings) -> None:
    shutil.rmtree(settings.index_dir, ignore_errors=True)
