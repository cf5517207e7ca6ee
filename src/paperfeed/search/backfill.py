"""The transformer's vector store: a second vector index beside the static one, filled behind
it, newest papers first, resumable after kill -9.

Files under `<index>/transformer/` (rows are those of `rows.txt`, as for every index):

- `vectors.f16`, `ann.usearch`: the transformer's unit vectors by row (`VectorStore`).
- `done.u8`: one byte per row: 0 to embed, 1 embedded, 2 nothing to embed (gone from the store).
- `day.i32`: each row's paper day (proleptic ordinal): the backfill takes the newest first.
- `state.json`: the model, how far the store's change sequence has been followed (papers
  changed after it are still to be marked 0), the measured rate, and the sums of the
  calibration of static cosines onto this model's scale (`paperfeed.search.dense`).

A step (`fill`) writes its papers' vectors and flushes them, then sets their done bytes and
flushes those. A kill between the two leaves papers embedded but not marked (they are
embedded again, to the same vectors); a marked paper always has its vector on disk, so a
finished step is never lost or half-kept. The ANN file is saved every minute and at the end
of a run; on opening for writing, done rows missing from it are added from `vectors.f16`,
done rows whose vector is not a unit vector (a damaged file) are marked to embed again.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from paperfeed.search.dense import Calibration, calibration_sums
from paperfeed.search.results import BackfillProgress
from paperfeed.search.statefile import Stamp, StateFile, read_state
from paperfeed.search.vectors import EXACT_BELOW, VectorStore

log = logging.getLogger(__name__)

DIRNAME = "transformer"
STATE_VERSION = 1
TODO, DONE, GONE = 0, 1, 2
SAVE_ANN_EVERY = 60.0  # seconds between two saves of the ANN file while filling
ACTIVE_WITHIN = 120.0  # a backfill that took a step this recently is running
RATE_SMOOTHING = 0.3  # weight of the newest step in the papers/s estimate
# The HNSW's search breadth (usearch expansion_search) for this index. On the 218,199 real
# MiniLM vectors of a whole-corpus backfill and 370 evaluation queries
# (benchmarks/ann_recall.py), the share of the exact top 10 among the 50 rows asked was
# 0.898 at 64 (the static index's setting), 0.953 at 128, 0.977 at 256, 0.989 at 512; a
# search took 1.0 / 1.4 / 1.8 / 3.5 ms. At 64, adding the static index's 50 nearest rows
# (as queries did before it was dropped from complete stores) gave only 0.914.
EXPANSION_SEARCH = 256


@dataclass(slots=True)
class BackfillState:
    """What `state.json` of the transformer store records."""

    model: str = ""
    dim: int = 0
    seq: int = 0  # store changes up to this sequence are marked in done.u8
    version: int = STATE_VERSION
    rate: float = 0.0  # papers/s, smoothed over the last steps
    updated: float = 0.0  # wall-clock time of the last step
    cal: list[float] = field(default_factory=lambda: [0.0] * 5)  # calibration_sums

    @classmethod
    def read(cls, path: Path) -> BackfillState:
        state = read_state(path, cls)
        if (
            state is None
            or not isinstance(state.seq, int)
            or not isinstance(state.cal, list)
            or len(state.cal) != 5
        ):
            return cls()
        return state


def day_number(day: date | None) -> int:
    return day.toordinal() if day else 0


class TransformerStore:
    """The second vector index (see the module docstring). Not thread-safe for writing: the
    indexer calls the writing methods under its lock; queries only read."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._state_file = StateFile(self.dir / "state.json", BackfillState.read)
        self.state = self._state_file.load()
        self._vectors: VectorStore | None = None
        self._done: np.ndarray | None = None  # read-only map of done.u8
        self._done_size = -1
        self._last_ann_save = time.monotonic()
        self.unsaved = False  # vectors added to the in-memory ANN since its file was saved
        self._exact: tuple[np.ndarray, np.ndarray] | None = None  # see `top`
        self._exact_key: tuple[Stamp, int, float] = ((0, 0, 0), 0, 0.0)
        self._waiting: tuple[np.ndarray, np.ndarray | None] | None = None  # see `waiting`
        self._waiting_key: tuple[object, ...] = ()
        self._writes = 0  # done flags changed by this object (a key of the counts below)
        self._count = 0  # rows filled, counted at `_count_key`
        self._count_key: tuple[Stamp, int, int] = ((0, 0, 0), -1, -1)

    # --- files -------------------------------------------------------------------------

    @property
    def done_path(self) -> Path:
        return self.dir / "done.u8"

    @property
    def day_path(self) -> Path:
        return self.dir / "day.i32"

    def save_state(self) -> None:
        self._state_file.save(self.state)

    def refresh(self) -> None:
        """Follow a backfill run by another process (its state, its saved ANN file)."""
        if self._state_file.changed():
            self.state = self._state_file.load()
        if self._vectors is not None and not self.unsaved and self._vectors.changed_on_disk():
            self._vectors = None

    def catch_up_with_disk(self) -> None:
        """Before a step (under the lock): take another writer's state and saved ANN file,
        keeping this process's unsaved additions (done rows missing from the ANN are added)."""
        self.refresh()
        if self._vectors is not None and self._vectors.changed_on_disk():
            self._vectors = None
            self.vectors  # noqa: B018 (loads the other writer's ANN file)
            self._add_missing_to_ann(save=False)

    def use_model(self, name: str, dim: int) -> None:
        """Start over when the vectors on disk come from another model (or none yet)."""
        st = self.state
        if st.model == name and st.dim == dim and st.version == STATE_VERSION:
            return
        if st.model:
            log.warning("search: transformer changed (%s -> %s): re-embedding", st.model, name)
        self.wipe()
        self.state = BackfillState(model=name, dim=dim)
        self.save_state()

    def wipe(self) -> None:
        """Forget every transformer vector (rows changed meaning, or the model changed)."""
        for entry in self.dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        model, dim = self.state.model, self.state.dim
        self.state = BackfillState(model=model, dim=dim)
        self.save_state()
        self._vectors, self._done, self._done_size = None, None, -1
        self._exact = self._waiting = None
        self.unsaved = False

    @property
    def vectors(self) -> VectorStore:
        """The transformer's vectors; an unreadable ANN file is rebuilt from `vectors.f16`."""
        if self._vectors is None:
            try:
                self._vectors = VectorStore(
                    self.dir, self.state.dim, expansion_search=EXPANSION_SEARCH
                )
            except (RuntimeError, ValueError, OSError) as exc:
                log.warning("search: transformer ANN unreadable (%s): rebuilding it", exc)
                (self.dir / "ann.usearch").unlink(missing_ok=True)
                self._vectors = VectorStore(
                    self.dir, self.state.dim, expansion_search=EXPANSION_SEARCH
                )
                self._add_missing_to_ann(save=True)
        return self._vectors

    def done_flags(self) -> np.ndarray:
        """done.u8 as a read-only array (re-mapped when it grew; sees other writers)."""
        size = self.done_path.stat().st_size if self.done_path.exists() else 0
        if self._done is None or size != self._done_size:
            self._done = (
                np.memmap(self.done_path, dtype=np.uint8, mode="r", shape=(size,))
                if size
                else np.zeros(0, dtype=np.uint8)
            )
            self._done_size = size
        return self._done

    def _grow(self, rows: int) -> None:
        """done.u8 and day.i32 cover `rows` rows (new rows: to embed, day unknown)."""
        for path, width in ((self.done_path, 1), (self.day_path, 4)):
            size = path.stat().st_size if path.exists() else 0
            if size < rows * width:
                with open(path, "ab") as fh:
                    fh.truncate(rows * width)

    def _flags_rw(self, rows: int) -> tuple[np.memmap, np.memmap]:
        self._grow(rows)
        n = self.done_path.stat().st_size
        done = np.memmap(self.done_path, dtype=np.uint8, mode="r+", shape=(n,))
        day = np.memmap(self.day_path, dtype=np.int32, mode="r+", shape=(n,))
        return done, day

    # --- progress ------------------------------------------------------------------------

    def filled(self) -> int:
        """Rows with a transformer vector."""
        return self._filled_count(self.done_flags())

    def finished(self) -> int:
        """Rows with nothing left to do (embedded, or gone from the store)."""
        return int(np.count_nonzero(self.done_flags()))

    def todo(self, rows: int) -> int:
        """Rows among the first `rows` still to embed (rows not yet marked count too)."""
        flags = self.done_flags()
        return int(np.count_nonzero(flags[:rows] == TODO)) + max(rows - len(flags), 0)

    def progress(self, total: int, model: str) -> BackfillProgress:
        st = self.state
        active = time.time() - st.updated < ACTIVE_WITHIN
        done = min(self.finished(), total)
        left = max(total - done, 0)
        eta = left / st.rate if active and st.rate > 0 and left else (0.0 if not left else None)
        return BackfillProgress(model, done, total, st.rate if active else 0.0, eta, active)

    # --- writing (under the indexer's lock) ----------------------------------------------

    def mark(self, rows: list[int], days: list[int], total_rows: int) -> None:
        """These rows' papers are new or changed: embed them (again), placed by their day."""
        if not rows:
            return
        done, day = self._flags_rw(total_rows)
        idx = np.asarray(rows, dtype=np.int64)
        day[idx] = np.asarray(days, dtype=np.int32)
        done[idx] = TODO
        self._writes += 1
        day.flush()
        done.flush()
        del done, day

    def next_rows(self, n: int, total_rows: int) -> list[int]:
        """Up to `n` rows to embed next: the newest papers first (ties: the latest row)."""
        done, day = self._flags_rw(total_rows)
        todo = np.flatnonzero(np.asarray(done[:total_rows]) == TODO)
        if not len(todo):
            return []
        key = np.asarray(day[todo], dtype=np.int64) * (1 << 32) + todo
        if len(todo) > n:
            pick = np.argpartition(-key, n - 1)[:n]
            todo, key = todo[pick], key[pick]
        return [int(r) for r in todo[np.argsort(-key)]]

    def fill(self, rows: list[int], vecs: np.ndarray, static: np.ndarray | None = None) -> None:
        """Keep the vectors of a step, then mark its rows done (in that order: see above).

        `static` are the same papers' static vectors (zero rows where missing), which feed
        the global calibration of static cosines onto this model's scale."""
        if not rows:
            return
        self.vectors.write(rows, vecs)
        self.unsaved = True
        done, _ = self._flags_rw(max(rows) + 1)
        done[np.asarray(rows, dtype=np.int64)] = DONE
        done.flush()
        del done
        self._writes += 1
        if static is not None:
            sums = calibration_sums(static, vecs)
            self.state.cal = [a + b for a, b in zip(self.state.cal, sums, strict=True)]

    def mark_gone(self, rows: list[int]) -> None:
        """Rows whose paper the store no longer has: nothing to embed."""
        if not rows:
            return
        done, _ = self._flags_rw(max(rows) + 1)
        done[np.asarray(rows, dtype=np.int64)] = GONE
        done.flush()
        del done
        self._writes += 1

    def step_done(self, papers: int, seconds: float) -> None:
        """Record a step's rate (smoothed) and time in the state."""
        rate = papers / max(seconds, 1e-6)
        st = self.state
        active = time.time() - st.updated < ACTIVE_WITHIN and st.rate > 0
        st.rate = (1 - RATE_SMOOTHING) * st.rate + RATE_SMOOTHING * rate if active else rate
        st.updated = time.time()
        self.save_state()

    def save_ann(self, *, force: bool = False) -> None:
        """Save the ANN file when a minute has passed since the last save (or `force`)."""
        if not self.unsaved:
            return
        if force or time.monotonic() - self._last_ann_save >= SAVE_ANN_EVERY:
            self.vectors.save()
            self.unsaved = False
            self._last_ann_save = time.monotonic()
            self.save_state()  # moves the state's mtime: other processes reload the ANN

    def adopt(self, directory: Path, *, rows: int, seq: int) -> int:
        """Take over `vectors.f16` and `ann.usearch` of `directory`, vectors of this model
        covering the store up to change sequence `seq` (the first `rows` rows checked):
        rows with a vector are done, papers changed after `seq` are embedded again."""
        for name in ("vectors.f16", "ann.usearch"):
            if (directory / name).exists():
                os.replace(directory / name, self.dir / name)
        self._vectors = None
        m = self.vectors.matrix()
        done, _ = self._flags_rw(len(m))
        n = min(rows, len(m))
        for start in range(0, n, 50_000):
            block = np.asarray(m[start : min(n, start + 50_000)])
            done[start : start + len(block)] = np.where(np.any(block != 0, axis=1), DONE, TODO)
        done.flush()
        del done
        self._writes += 1
        self.state.seq = seq
        self.save_state()
        self.reconcile()
        return self.filled()

    def reconcile(self) -> int:
        """After a crash or damage: done rows whose vector is missing or not unit length
        are to be embedded again; done rows missing from the ANN are added to it. Returns
        how many rows were put back to embed."""
        flags = self.done_flags()
        done_rows = np.flatnonzero(flags == DONE)
        if not len(done_rows):
            return 0
        vs = self.vectors
        # read in blocks (not through a memory map: a map of the whole file, even one of its
        # own unmapped after the check, put every page of it in this process's RSS at once)
        n = vs.rows_stored()
        bad = [int(r) for r in done_rows[done_rows >= n]]
        block_rows = 50_000
        with open(vs.flat, "rb") if n else open(os.devnull, "rb") as fh:
            for start in range(0, n, block_rows):
                count = min(block_rows, n - start)
                block = np.fromfile(fh, dtype=np.float16, count=count * vs.dim)
                block = block[: len(block) // vs.dim * vs.dim].reshape(-1, vs.dim)
                lo, hi = np.searchsorted(done_rows, [start, start + len(block)])
                rows = done_rows[lo:hi]
                norms = np.linalg.norm(block[rows - start].astype(np.float32), axis=1)
                bad += [int(r) for r in rows[~(np.abs(norms - 1.0) < 0.01)]]
                if len(block) < count:  # the file shrank meanwhile: the rest is missing
                    bad += [int(r) for r in done_rows[hi:] if r < n]
                    break
        if bad:
            log.warning("search: %d transformer vectors damaged or missing: re-embedding", len(bad))
            done, _ = self._flags_rw(len(flags))
            done[np.asarray(bad, dtype=np.int64)] = TODO
            done.flush()
            del done
            self._writes += 1
            self.save_state()  # other processes count the filled rows again
        self._add_missing_to_ann(save=True)
        return len(bad)

    def _add_missing_to_ann(self, *, save: bool) -> None:
        vs = self._vectors
        if vs is None:
            return
        rows = np.flatnonzero(self.done_flags() == DONE)
        rows = rows[rows < vs.rows_stored()]
        if not len(rows):
            return
        present = np.asarray(vs.ann.contains(rows.astype(np.uint64)), dtype=bool)
        missing = rows[~present]
        for start in range(0, len(missing), 50_000):
            block = missing[start : start + 50_000]
            vs.ann.add(block.astype(np.uint64), vs.read_rows(block).astype(np.float16))
        if len(missing):
            self.unsaved = True
            if save:
                self.save_ann(force=True)

    # --- reading (queries) ---------------------------------------------------------------

    def scores(self, rows: list[int], query: np.ndarray) -> dict[int, float]:
        """Cosine of the query with each of these rows that has a transformer vector."""
        flags = self.done_flags()
        have = [r for r in rows if r < len(flags) and flags[r] == DONE]
        return self.vectors.scores(have, query) if have else {}

    def top(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k embedded rows nearest `query` (rows marked to embed again are skipped).

        While few rows are filled, an exact scan of those rows only: the newest papers may
        sit anywhere in the file, so scanning the whole file (as `VectorStore.top` does for a
        small index) would read and copy every row of the catalogue."""
        flags = self.done_flags()
        if self._filled_count(flags) > EXACT_BELOW:
            near = self.vectors.nearest(query, k + 8)
            return [(r, s) for r, s in near if r < len(flags) and flags[r] == DONE][:k]
        rows, matrix = self._filled_matrix(flags)
        if not len(rows):
            return []
        sims = matrix @ query
        best = np.argsort(-sims)[:k]
        return [(int(rows[i]), float(sims[i])) for i in best]

    def _filled_count(self, flags: np.ndarray) -> int:
        """Rows filled; counted again only when the flags may have changed (a new state
        file, a longer done.u8, or a write through this object): counting 1M flags costs
        about a millisecond, and a query asks up to three times."""
        key = (self._state_file.stamp, len(flags), self._writes)
        if key != self._count_key:
            self._count, self._count_key = int(np.count_nonzero(flags == DONE)), key
        return self._count

    def _filled_matrix(self, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The filled rows and their vectors as float32, kept until a step changes them."""
        key = (self._state_file.stamp, self._filled_count(flags), self.state.updated)
        if self._exact is None or self._exact_key != key:
            rows = np.flatnonzero(flags == DONE)
            rows = rows[rows < self.vectors.rows_stored()]
            self._exact = (rows, self.vectors.read_rows(rows))
            self._exact_key = key
        return self._exact

    def waiting(
        self, static: VectorStore, *, with_vectors: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows that have a static vector but no transformer vector yet (to embed, or
        past the end of `done.u8`: not marked yet), and (`with_vectors`, callers keep them
        few) their static vectors as float32; kept until either store changes."""
        flags = self.done_flags()
        try:
            st = static.flat.stat()
            static_key: tuple[int, int] = (st.st_size, st.st_mtime_ns)
        except OSError:
            static_key = (0, 0)
        key = (self._state_file.stamp, len(flags), self.state.updated, static_key)
        cached = self._waiting
        if cached is None or self._waiting_key != key or (with_vectors and cached[1] is None):
            n = static_key[0] // (2 * static.dim)
            rows = np.flatnonzero(np.asarray(flags[:n]) == TODO)
            if n > len(flags):
                rows = np.concatenate([rows, np.arange(len(flags), n)])
            cached = (rows, static.read_rows(rows) if with_vectors else None)
            self._waiting, self._waiting_key = cached, key
        return cached

    def vector(self, row: int) -> np.ndarray | None:
        flags = self.done_flags()
        if row >= len(flags) or flags[row] != DONE:
            return None
        return self.vectors.vector(row)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The vectors of those of `rows` that have one, as float32 rows (read with `pread`)."""
        flags = self.done_flags()
        have = [r for r in rows if r < len(flags) and flags[r] == DONE]
        return self.vectors.read_rows(have)

    def calibration(self) -> Calibration | None:
        """The global calibration measured so far (None before enough papers)."""
        return Calibration.from_sums(self.state.cal)
