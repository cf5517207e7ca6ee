"""The indexer: the derived search indexes under `<data_dir>/index/`, kept in step with the
store's change sequence.

One object owns the index state (`state.json`), one lock (a thread lock plus a file lock, so
one writer at a time across threads and processes), the sync from the store, start-up repair
and the background worker. Queries never write; they read through `paper_id`, `keyword`,
`vectors` and `embedder` (see `paperfeed.search.pipeline`).

Files: `keyword/` (tantivy), `rows.txt` (paper id per row), `vectors.f16` (float16 rows of
the static model), `ann.usearch`, `state.json` holding the store change sequence each index
has caught up to, and `transformer/`: the transformer's vectors, filled behind the static
ones, newest papers first (`paperfeed.search.backfill`).

Progressive indexing: keyword search at once (after every ingest), static vectors for every
paper next (thousands per second), then the transformer backfill, which the background
worker runs in slices of `TRANSFORMER_SLICE` seconds so that new papers are taken (newest
first) within a slice of their ingest.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from paperfeed.errors import ServiceUnavailable
from paperfeed.models import PaperText
from paperfeed.progress import Progress as ProgressReporter
from paperfeed.search.backfill import DIRNAME as TRANSFORMER_DIR
from paperfeed.search.backfill import TransformerStore, day_number
from paperfeed.search.embed import (
    Embedder,
    MissingExtraError,
    make_embedder,
    make_transformer,
    missing_extra,
    paper_text,
    transformer_kind,
)
from paperfeed.search.keyword import IndexDoc, KeywordIndex
from paperfeed.search.results import BackfillProgress, IndexStatus
from paperfeed.search.statefile import StateFile, read_state, write_state
from paperfeed.search.vectors import EXACT_BELOW, AnnUnreadable, RowMap, VectorStore, file_crc
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

FOREGROUND_EMBED = 20_000  # at start-up, embed this much lag before answering; more: worker
TRANSFORMER_SLICE = 10.0  # seconds of transformer backfill between two looks at the store
BACKGROUND_NICE = 10  # the worker thread yields the CPU to requests (Linux: per thread)
STATE_VERSION = 1
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class IndexDamaged(ServiceUnavailable):
    """An index file cannot be read or disagrees with `state.json`: it will be rebuilt."""


@dataclass(slots=True)
class IndexState:
    """What `state.json` records: how far each index has followed the store, and what each
    index file must look like (counts, sizes, checksums) to be trusted at start-up."""

    keyword_seq: int = 0
    vector_seq: int = 0
    embedder: str = ""
    dim: int = 0
    version: int = STATE_VERSION
    rows: int | None = None  # lines in rows.txt
    keyword_docs: int | None = None  # documents in the keyword index
    vector_rows: int | None = None  # rows of vectors.f16 covered by vectors_crc
    vectors_crc: int | None = None
    ann_size: int | None = None  # bytes of ann.usearch
    ann_crc: int | None = None

    @classmethod
    def read(cls, path: Path) -> IndexState:
        state = read_state(path, cls)
        if state is None or not all(
            isinstance(getattr(state, k), int) for k in ("keyword_seq", "vector_seq")
        ):
            return cls()
        return state


def index_doc(row: int, item: PaperText, *, new: bool = False) -> IndexDoc:
    return IndexDoc(
        row,
        item.id,
        item.title,
        item.abstract,
        item.day,
        tuple(item.categories),
        item.has_code,
        new,
    )


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
        if self.dir.exists() and not self.dir.is_dir():  # derived data: ours to replace
            log.warning("search index path %s is not a directory: replacing it", self.dir)
            self.dir.unlink()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self.embedder_name = embedder.name if embedder else "static"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.poll_seconds = poll_seconds
        self.progress: tuple[int, int] = (0, 0)  # vectors embedded / to embed in the current pass
        self._unsaved_vectors = False  # ANN rows added in memory, not yet saved
        self._state_file = StateFile(self.dir / "state.json", IndexState.read)
        self.state = self._state_file.load()
        self._keyword: KeywordIndex | None = None
        self.rowmap = RowMap(self.dir / "rows.txt")
        self._vectors: VectorStore | None = None
        self._transformer: Embedder | None = None
        self._worker_transformer: Embedder | None = None  # the worker thread's own (see _work)
        self._transformer_kind: str | None = None
        self._tstore: TransformerStore | None = None

    # --- files -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Follow index writes made by another process (e.g. `paperfeed ingest`)."""
        if self._state_file.changed():
            self.state = self._state_file.load()
            self.rowmap.refresh()
            if self._keyword is not None:
                self._keyword._searcher = None
            if self._vectors is not None and self._vectors.changed_on_disk() and not self.busy():
                self._vectors = None
        if self._tstore is not None and not self.busy():
            self._tstore.refresh()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time, across threads and processes."""
        with self._lock, open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                # the state as written, without taking its stamp: `refresh` still sees that
                # another process wrote and reloads what it changed (searcher, vectors)
                self.state = IndexState.read(self._state_file.path)
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
        self._state_file.save(self.state)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder("static")  # every paper's first vectors
            self.embedder_name = self._embedder.name
        return self._embedder

    @property
    def keyword(self) -> KeywordIndex:
        """The keyword index; IndexDamaged when its files cannot be read."""
        if self._keyword is None:
            try:
                self._keyword = KeywordIndex(self.dir / "keyword")
            except (ValueError, OSError) as exc:
                raise IndexDamaged(f"the keyword index cannot be read: {exc}") from exc
        return self._keyword

    @property
    def vectors(self) -> VectorStore:
        """The vector index; IndexDamaged when its ANN file cannot be read."""
        if self._vectors is None:
            try:
                self._vectors = VectorStore(
                    self.dir,
                    self.state.dim or self.embedder.dim,
                    lazy_ann=self.transformer_on,  # queries may never need it: see dense.py
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise IndexDamaged(f"the vector index cannot be read: {exc}") from exc
        return self._vectors

    @property
    def transformer_on(self) -> bool:
        """Whether PAPERFEED_TRANSFORMER names a transformer that can run here."""
        if self._transformer_kind is None:
            kind = transformer_kind(self.settings.transformer_choice)
            missing = missing_extra(kind)
            if missing:  # configured but not installed: say so once, search goes on
                log.error("search: no transformer (%s): static vectors only", missing)
                kind = "off"
            self._transformer_kind = kind
        return self._transformer_kind != "off"

    @property
    def transformer(self) -> Embedder | None:
        """The transformer embedder (loaded on first use); None when it is off, or when it
        cannot load here (said once in the log: search goes on with static vectors)."""
        if self._transformer is None and self.transformer_on:
            with self._lock:
                if self._transformer is None:
                    try:
                        self._transformer = make_transformer(
                            self._transformer_kind or "off",
                            max_tokens=self.settings.transformer_tokens,
                        )
                    except MissingExtraError as exc:
                        log.error("search: no transformer (%s): static vectors only", exc)
                        self._transformer_kind = "off"
        return self._transformer

    @property
    def tstore(self) -> TransformerStore | None:
        """The transformer's vector store, for the configured model; None when it is off."""
        if self._tstore is None:
            emb = self.transformer
            if emb is None:
                return None
            with self.writing():
                if self._tstore is None:
                    ts = TransformerStore(self.dir / TRANSFORMER_DIR)
                    ts.use_model(emb.name, emb.dim)  # another model's vectors: start over
                    self._tstore = ts
        return self._tstore

    def query_transformer(self) -> TransformerStore | None:
        """The transformer store when queries can use it: on, and some paper filled."""
        if not self.transformer_on:
            return None
        ts = self.tstore
        return ts if ts is not None and ts.filled() else None

    def paper_id(self, row: int) -> str:
        """The paper id of a row ('' for a row this process has not seen yet)."""
        if row >= len(self.rowmap):
            self.rowmap.refresh()
        return self.rowmap.ids[row] if row < len(self.rowmap) else ""

    # --- checks --------------------------------------------------------------------------

    def check(self, *, checksums: bool = True) -> dict[str, str]:
        """What is wrong with each index file, compared with `state.json` and the store
        (index name -> reason; empty when all is well). Reads only. Without `checksums`,
        compares counts and sizes only and reads no vector file's contents."""
        st, problems = self.state, {}
        if st.rows is not None and len(self.rowmap) < st.rows:
            problems["rows"] = f"rows.txt has {len(self.rowmap)} rows, {st.rows} expected"
        try:
            docs = KeywordIndex(self.dir / "keyword").num_docs()
        except (ValueError, OSError) as exc:
            problems["keyword"] = f"cannot be read ({exc})"
        else:
            papers = self.store.count_changes_since(0)
            if st.keyword_docs is not None and docs != st.keyword_docs:
                problems["keyword"] = f"{docs} documents, {st.keyword_docs} expected"
            elif st.keyword_seq and st.keyword_seq == self.store.last_seq() and docs != papers:
                problems["keyword"] = f"{docs} documents for {papers} papers"
        dim = st.dim or 0
        flat = self.dir / "vectors.f16"
        if st.vector_rows and dim:
            need = st.vector_rows * 2 * dim
            size = flat.stat().st_size if flat.exists() else 0
            if size < need:
                problems["vectors"] = f"vectors.f16 has {size} bytes, {need} expected"
            elif (
                checksums and st.vectors_crc is not None and file_crc(flat, need) != st.vectors_crc
            ):
                problems["vectors"] = "vectors.f16 checksum does not match"
        ann = self.dir / "ann.usearch"
        if st.ann_size is not None:
            if not ann.exists():
                problems["ann"] = "ann.usearch is missing"
            elif ann.stat().st_size != st.ann_size:
                problems["ann"] = "ann.usearch size does not match"
            elif checksums and file_crc(ann) != st.ann_crc:
                problems["ann"] = "ann.usearch checksum does not match"
        return problems

    def _record_vectors(self) -> None:
        """Put the vector files' sizes and checksums in the state (then saved with it)."""
        vs = self.vectors
        rows = vs.rows_stored()
        self.state.vector_rows = rows
        self.state.vectors_crc = vs.checksum(rows)
        if vs.ann_path.exists():
            self.state.ann_size = vs.ann_path.stat().st_size
            self.state.ann_crc = file_crc(vs.ann_path)
        else:
            self.state.ann_size = self.state.ann_crc = None

    # --- keeping up with the store -------------------------------------------------------

    def repair(self) -> None:
        """Check every index against the store and `state.json`; rebuild what is wrong."""
        store_seq = self.store.last_seq()
        with self.writing():
            st = self.state
            problems = self.check()
            for name, why in problems.items():
                log.warning("search index %s is damaged (%s): rebuilding it", name, why)
            broken = (
                st.version != STATE_VERSION
                or st.keyword_seq > store_seq  # a different or restored database
                or st.vector_seq > store_seq
                or (st.keyword_seq == 0 and len(self.rowmap) > 0)
                or "rows" in problems
                or ("keyword" not in problems and self.keyword.num_docs() > len(self.rowmap))
            )
            if broken:
                log.warning("search indexes disagree with the store: rebuilding them")
                self._wipe(keyword=True)
            else:
                if "keyword" in problems:
                    self._wipe_keyword()
                if st.embedder and st.embedder != self.embedder.name:
                    log.warning(
                        "embedder changed (%s -> %s): re-embedding", st.embedder, self.embedder.name
                    )
                    if "vectors" not in problems and "ann" not in problems:
                        self._adopt_as_transformer(st)
                    self._wipe(keyword=False)
                elif "vectors" in problems:
                    self._wipe(keyword=False)
                elif "ann" in problems:
                    self._rebuild_ann()
        self.sync_keyword()
        if self.store.count_changes_since(self.state.vector_seq) <= FOREGROUND_EMBED:
            self.sync_vectors()
        self._repair_transformer()

    def _repair_transformer(self) -> None:
        """Open the transformer store (a new model starts over) and repair what a crash or
        damage left: the backfill itself is the worker's (or `sync_transformer`'s)."""
        if not self.transformer_on:
            return
        ts = self.tstore
        if ts is None:
            return
        with self.writing():
            if ts.state.seq > self.store.last_seq():  # a different or restored database
                log.warning("search: transformer index is ahead of the store: re-embedding")
                ts.wipe()
            ts.reconcile()

    def _adopt_as_transformer(self, st: IndexState) -> None:
        """An index whose only vectors were the transformer's (PAPERFEED_EMBEDDER=onnx, before
        progressive indexing): its vector files become the transformer store's, so an
        instance upgraded in place keeps its hour of embedding (under the lock)."""
        emb = self.transformer
        if emb is None or emb.name != st.embedder or emb.dim != st.dim:
            return
        ts = TransformerStore(self.dir / TRANSFORMER_DIR)
        if ts.state.model == emb.name and ts.filled():
            return  # it has vectors of its own already
        ts.use_model(emb.name, emb.dim)
        adopted = ts.adopt(self.dir, rows=st.vector_rows or 0, seq=st.vector_seq)
        self._tstore = ts
        log.warning("search: kept %d %s vectors as the transformer's", adopted, emb.name)

    def _rebuild_ann(self) -> None:
        """A damaged ANN file is rebuilt from the vector file (no re-embedding)."""
        (self.dir / "ann.usearch").unlink(missing_ok=True)
        self._vectors = None
        vs = self.vectors
        n = vs.rebuild_ann(self.state.vector_rows or vs.rows_stored())
        vs.save()
        self._record_vectors()
        self._save_state()
        log.warning("search: rebuilt the ANN index from %d stored vectors", n)

    def _wipe_keyword(self) -> None:
        self._keyword = KeywordIndex.create_empty(self.dir / "keyword")
        self.state.keyword_seq = 0
        self.state.keyword_docs = 0
        self._save_state()

    def _wipe(self, *, keyword: bool) -> None:
        if keyword:
            self._keyword = KeywordIndex.create_empty(self.dir / "keyword")
            (self.dir / "rows.txt").unlink(missing_ok=True)
            self.rowmap = RowMap(self.dir / "rows.txt")
            self.state.keyword_seq = 0
            self.state.keyword_docs = 0
            self.state.rows = 0
            if self._tstore is not None:  # its rows are gone: start it over too
                self._tstore.wipe()
            else:
                shutil.rmtree(self.dir / TRANSFORMER_DIR, ignore_errors=True)
        for name in ("vectors.f16", "ann.usearch"):
            (self.dir / name).unlink(missing_ok=True)
        self._vectors = None
        self.state.vector_seq = 0
        self.state.embedder = self.embedder.name
        self.state.dim = self.embedder.dim
        self.state.version = STATE_VERSION
        self.state.vector_rows = self.state.vectors_crc = None
        self.state.ann_size = self.state.ann_crc = None
        self._save_state()

    def sync_keyword(self, *, batch: int = 20_000, progress: Progress | None = None) -> int:
        """Catch the keyword index up with the store; returns how many papers were indexed."""
        n = sync_keyword(self.store, self.dir, progress=progress, batch=batch, lock=self.writing)
        self.state = self._state_file.load()
        self.rowmap.refresh()
        if self._keyword is not None:
            self._keyword._searcher = None
        return n

    def sync_vectors(
        self, *, batch: int = 512, progress: Progress | None = None, max_papers: int | None = None
    ) -> int:
        """Embed papers changed since the vector index's sequence; returns how many.

        Vectors reach disk batch by batch; the ANN file, `vector_seq` and the files'
        checksums every 30 s, at the end, and after any batch that rewrote a row already
        checksummed (a new version of a paper), so a killed run resumes from the last saved
        sequence and a check never mistakes work in progress for damage.
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
            rewrote = False
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
                    rewrote = min(rows) < (self.state.vector_rows or 0)
                    cursor = unsaved = changes[-1].seq
                    self._unsaved_vectors = True
                    done += len(changes)
                    self.progress = (done, max(total, done))
                finished = len(changes) < batch or (max_papers is not None and done >= max_papers)
                if unsaved is not None and (
                    finished or rewrote or time.monotonic() - last_save > 30
                ):
                    self._save_vectors(unsaved)
                    unsaved, last_save = None, time.monotonic()
            if progress and changes:
                progress("vectors", done, max(total, done))
            if finished:
                break
        if unsaved is not None:  # stopped early: keep what was done
            with self.writing():
                if self._vectors is not None and not self._vectors.changed_on_disk():
                    self._save_vectors(max(self.state.vector_seq, unsaved))
        self._unsaved_vectors = False
        self.release_static_ann()
        return done

    def release_static_ann(self) -> bool:
        """Drop the static model's in-memory ANN index (saved) when queries do not need it:
        the transformer store is open and at most `EXACT_BELOW` papers wait for their
        transformer vector (`paperfeed.search.dense`). Writing static vectors (new papers)
        loads it again for as long as the write takes. Returns whether it was dropped."""
        ts, vs = self._tstore, self._vectors
        if ts is None or vs is None or not vs.ann_loaded or self._unsaved_vectors:
            return False
        with self.writing():
            if self._unsaved_vectors or self._vectors is not vs:
                return False
            waiting, _ = ts.waiting(vs, with_vectors=False)
            if len(waiting) > EXACT_BELOW:
                return False
            vs.release_ann()
        return True

    def _save_vectors(self, seq: int) -> None:
        self.vectors.save()
        self.state.vector_seq = seq
        self.state.rows = len(self.rowmap)
        self._record_vectors()
        self._save_state()
        self._unsaved_vectors = False

    def _follow_for_transformer(self, ts: TransformerStore, batch: int = 20_000) -> None:
        """Mark papers changed since the transformer store's sequence as to embed (under
        the lock): new papers, and new versions of embedded ones."""
        while changes := self.store.paper_texts_since(ts.state.seq, limit=batch):
            rows = self.rowmap.assign([c.id for c in changes])
            ts.mark(rows, [day_number(c.day) for c in changes], len(self.rowmap))
            ts.state.seq = changes[-1].seq
            ts.save_state()
            if len(changes) < batch:
                break

    def sync_transformer(
        self,
        *,
        progress: Progress | None = None,
        max_papers: int | None = None,
        max_seconds: float | None = None,
    ) -> int:
        """Fill the transformer's vectors, newest papers first, step by step (each step is
        kept on disk before the next: a killed run resumes where it was); returns how many
        papers were embedded. Stops when all are filled, or after `max_papers` or about
        `max_seconds`, or when the worker is stopped."""
        emb, ts = self._backfill_embedder(), self.tstore
        if emb is None or ts is None:
            return 0
        started, done = time.monotonic(), 0
        chunk = self.settings.transformer_batch or int(getattr(emb, "backfill_chunk", 128))
        total = self.store.count_changes_since(0)
        try:
            while not self._stop.is_set():
                with self.writing():
                    ts.catch_up_with_disk()
                    self._follow_for_transformer(ts)
                    want = chunk if max_papers is None else min(chunk, max_papers - done)
                    rows = ts.next_rows(want, len(self.rowmap)) if want > 0 else []
                    if rows:
                        t0 = time.monotonic()
                        self._embed_step(ts, emb, rows)
                        ts.step_done(len(rows), time.monotonic() - t0)
                        ts.save_ann()
                        done += len(rows)
                if progress and rows:
                    progress("transformer", min(ts.finished(), total), total)
                if len(rows) < chunk:
                    break
                if max_papers is not None and done >= max_papers:
                    break
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    break
        finally:
            with self.writing():
                ts.save_ann(force=True)
        return done

    def _embed_step(self, ts: TransformerStore, emb: Embedder, rows: list[int]) -> None:
        ids = [self.rowmap.ids[r] for r in rows]
        papers = {p.paper.id: p.paper for p in self.store.get_papers(ids)}
        have = [(r, papers[pid]) for r, pid in zip(rows, ids, strict=True) if pid in papers]
        ts.mark_gone([r for r, pid in zip(rows, ids, strict=True) if pid not in papers])
        if not have:
            return
        keep = [r for r, _ in have]
        vecs = emb.embed([paper_text(p.title, p.abstract) for _, p in have])
        static = None
        if self.state.dim:  # the same papers' static vectors, for the global calibration
            static = self.vectors.read_rows(keep)  # rows past the file's end: zeros
        ts.fill(keep, vecs, static)

    def _backfill_embedder(self) -> Embedder | None:
        """The transformer for a backfill. In the worker thread, an instance of its own,
        made there: its thread pool (ONNX Runtime's) inherits the thread's lower priority,
        so queries, which use the shared instance, keep the CPU first."""
        base = self.transformer
        if base is None or threading.current_thread() is not self._worker:
            return base
        if self._worker_transformer is None:
            self._worker_transformer = make_transformer(
                self._transformer_kind or "off", max_tokens=self.settings.transformer_tokens
            )
        return self._worker_transformer

    def transformer_progress(self) -> BackfillProgress:
        """How far the transformer backfill has got (reads files only; loads no model)."""
        total = self.store.count_changes_since(0)
        if not self.transformer_on:
            return BackfillProgress("", 0, total, 0.0, None, False)
        ts = self._tstore or TransformerStore(self.dir / TRANSFORMER_DIR)
        ts.refresh()
        return ts.progress(total, ts.state.model or self.settings.transformer_choice)

    def rebuild(self, *, progress: Progress | None = None) -> IndexStatus:
        """Throw every index away and rebuild them from the store; blocks until complete.

        Works from any state of the index directory: nothing in it is read first."""
        self.stop_worker()
        with self.writing():
            for entry in self.dir.iterdir():
                if entry.name == ".lock":
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            self.state = IndexState()
            self._tstore = None
            self._wipe(keyword=True)
        self.sync_keyword(progress=progress)
        self._stop.clear()
        self.sync_vectors(progress=progress)
        self.sync_transformer(progress=progress)
        return self.status()

    def status(self, *, checksums: bool = False) -> IndexStatus:
        """What each index has done and has left (counts from the state files and the
        transformer's done bytes). `checksums` also reads the vector files whole to compare
        them with `state.json` (`paperfeed index`, the doctor); without it the status costs a
        few stats and counts, for the admin page that reloads every 15 s."""
        self.refresh()
        st = self.state
        problems = self.check(checksums=checksums)
        try:
            docs = self.keyword.num_docs() if "keyword" not in problems else 0
        except IndexDamaged as exc:
            docs, problems["keyword"] = 0, str(exc)
        try:
            vectors = self.vectors.ann_size() if "ann" not in problems else 0
        except IndexDamaged as exc:
            vectors, problems["ann"] = 0, str(exc)
        return IndexStatus(
            store_seq=self.store.last_seq(),
            keyword_seq=st.keyword_seq,
            vector_seq=st.vector_seq,
            keyword_pending=self.store.count_changes_since(st.keyword_seq),
            vectors_pending=self.store.count_changes_since(st.vector_seq),
            papers_indexed=docs,
            vectors=vectors,
            embedder=st.embedder or self.embedder_name,
            damaged=problems,
            transformer=self.transformer_progress(),
        )

    # --- background worker ---------------------------------------------------------------

    def start_worker(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="paperfeed-indexer", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        lower_thread_priority(BACKGROUND_NICE)
        # one reporter for the whole backfill, across its slices: it logs when the backfill
        # starts, a line a minute while it runs and one when it is complete
        backfill = ProgressReporter(bar=False, every=60.0)
        outage = False  # the store is unavailable (logged once, and once when it is back)
        while not self._stop.is_set():
            try:
                self.refresh()
                self.release_static_ann()  # once the transformer covers the catalogue
                keyword_pending = self.store.count_changes_since(self.state.keyword_seq)
                if outage:
                    log.warning("search: the store answers again: indexing resumes")
                    outage = False
                if keyword_pending:
                    self.sync_keyword()
                if self.store.count_changes_since(self.state.vector_seq):
                    n = self.sync_vectors(progress=ProgressReporter(bar=False).phase)
                    log.info("search: embedded %d papers", n)
                if self._transformer_pending():
                    n = self.sync_transformer(
                        progress=backfill.phase, max_seconds=TRANSFORMER_SLICE
                    )
                    if n:  # more to do: look at the store again, then go on at once
                        continue
            except (IndexDamaged, AnnUnreadable) as exc:  # damaged under a running service
                log.warning("search: %s; repairing", exc)
                try:
                    self.repair()
                except Exception:
                    log.exception("search index repair failed")
            except ServiceUnavailable as exc:  # a database restart, a full disk: known, no trace
                if not outage:
                    log.warning("search: indexing paused until the store answers: %s", exc.message)
                    outage = True
            except Exception:  # keep serving; the next round retries
                log.exception("search indexing failed")
            self._stop.wait(self.poll_seconds)

    def _transformer_pending(self) -> bool:
        if not self.transformer_on:
            return False
        ts = self.tstore
        if ts is None:
            return False
        ts.refresh()
        return ts.state.seq < self.store.last_seq() or ts.todo(len(self.rowmap)) > 0

    def stop_worker(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=60)
        self._worker = None

    def close(self) -> None:
        self.stop_worker()


def lower_thread_priority(step: int) -> None:
    """Raise the calling thread's nice value by `step` (Linux, where it is per thread; the
    threads it starts inherit it). Elsewhere a no-op: there it would renice the process."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
    except OSError:  # not permitted here: run at the normal priority
        log.debug("search: could not lower the worker thread's priority")


def sync_keyword(
    store: Store,
    index_dir: Path,
    *,
    batch: int = 20_000,
    progress: Progress | None = None,
    lock: Callable[[], AbstractContextManager[None]] | None = None,
    leave: int = 0,
) -> int:
    """Catch the keyword index in `index_dir` up with the store's change sequence; returns
    how many papers were indexed. With `leave`, stop while fewer changes than that are
    pending (a follower of a running import waits for full batches: one commit each)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    total = None
    done = 0
    while True:
        ctx = _file_lock(index_dir) if lock is None else lock()
        with ctx:
            state = IndexState.read(index_dir / "state.json")
            if total is None or leave:
                total = done + store.count_changes_since(state.keyword_seq)
                if total - done < max(leave, 1):
                    return done
            changes = store.paper_texts_since(state.keyword_seq, limit=batch)
            if not changes:
                return done
            rowmap = RowMap(index_dir / "rows.txt")
            known = len(rowmap)  # rows from here on are new: no older version to delete
            rows = rowmap.assign([c.id for c in changes])
            keyword = KeywordIndex(index_dir / "keyword")
            keyword.add(index_doc(r, c, new=r >= known) for r, c in zip(rows, changes, strict=True))
            state.keyword_seq = changes[-1].seq
            state.keyword_docs = keyword.num_docs()
            state.rows = len(rowmap)
            write_state(index_dir / "state.json", state)
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
