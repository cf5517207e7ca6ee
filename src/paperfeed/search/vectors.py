"""The vector side: one float16 row per paper in a flat file, plus a usearch ANN index.

Rows are the same numbers the keyword index uses (`RowMap`), so fusion can score any keyword
candidate by reading its row. A row of zeros means "not embedded yet" (cosine 0).

Queries read the rows they score with `pread` (`read_rows`), not through a memory map: a
query reads a few hundred rows spread over the whole file, and through a map each of them
faults in its neighbours too (the kernel maps up to 16 cached pages around a fault), so
after a few hundred queries the whole file (732 MiB for 1M transformer vectors) counted in
the serving process's RSS. Read with `pread`, the pages stay in the page cache, shared and
reclaimable, outside every process's RSS.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from paperfeed.search.native import Index

EXACT_BELOW = 20_000  # below this many vectors, nearest neighbours are computed exactly


class AnnUnreadable(RuntimeError):
    """An ANN file that could not be loaded when it was first needed (see `lazy_ann`)."""


def file_crc(path: Path, length: int | None = None) -> int:
    """CRC-32 of the first `length` bytes of a file (all of it by default)."""
    crc, left = 0, length
    with open(path, "rb") as fh:
        while left is None or left > 0:
            chunk = fh.read(1 << 22 if left is None else min(1 << 22, left))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            if left is not None:
                left -= len(chunk)
    return crc


class RowMap:
    """Paper id <-> row number; an append-only text file, one id per line.

    Queries refresh it (`paper_id` of a row this process has not seen) while the indexer
    thread appends to it: both go through one lock, so no line is read twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self._size = 0
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Pick up rows appended by another process (or thread)."""
        if not self.path.exists():
            return
        with self._lock:
            size = self.path.stat().st_size
            if size == self._size:
                return
            with open(self.path, "rb") as fh:
                fh.seek(self._size)
                chunk = fh.read(size - self._size)
            complete = chunk.rfind(b"\n") + 1  # ignore a torn last line
            for line in chunk[:complete].decode("utf-8").splitlines():
                self.rows[line] = len(self.ids)
                self.ids.append(line)
            self._size += complete

    def assign(self, paper_ids: Sequence[str]) -> list[int]:
        """Rows for these ids, appending new ones (callers hold the index's write lock)."""
        new = [pid for pid in dict.fromkeys(paper_ids) if pid not in self.rows]
        if new:
            with self._lock, open(self.path, "ab") as fh:
                fh.write("".join(f"{pid}\n" for pid in new).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            self.refresh()
        return [self.rows[pid] for pid in paper_ids]

    def __len__(self) -> int:
        return len(self.ids)


def new_index(dim: int, expansion_search: int = 64) -> Index:
    # expansion_add 64 instead of 128 halves insert time (measured ~1.9k vs ~0.9k/s on a
    # loaded 2-core box); ANN hits only add candidates, the fused ranking is exact cosine.
    return Index(
        ndim=dim,
        metric="ip",
        dtype="f16",
        connectivity=16,
        expansion_add=64,
        expansion_search=expansion_search,
    )


class VectorStore:
    """Unit vectors (float16) by row in `vectors.f16`, and an ANN index over them.

    With `lazy_ann`, the ANN file is loaded on first use (a search or a write), not when
    the store is opened: the static model's index (~630 MiB at 1M papers) is not needed by
    queries once the transformer's vectors cover the catalogue (`paperfeed.search.dense`).
    Opening still reads the file's header (a file that is not an index raises ValueError,
    as a failed load does); a body that fails to load later raises `AnnUnreadable`.
    """

    def __init__(
        self, directory: Path, dim: int, *, lazy_ann: bool = False, expansion_search: int = 64
    ) -> None:
        self.dir = directory
        self.dim = dim
        self.expansion_search = expansion_search  # a search setting: any saved file takes it
        self.flat = directory / "vectors.f16"
        self.ann_path = directory / "ann.usearch"
        self._matrix: np.ndarray | None = None
        self._matrix_rows = 0
        self._matrix32: np.ndarray | None = None
        self._matrix32_key: tuple[int, int] = (0, 0)  # (rows, file mtime_ns) it was made from
        self._ann: Index | None = None
        self._ann_count = 0  # vectors in the ANN file (its header) while it is not loaded
        self._ann_lock = threading.Lock()
        self._ann_mtime = 0.0
        if self.ann_path.exists():
            self._ann_mtime = self.ann_path.stat().st_mtime
            if lazy_ann:
                meta = Index.metadata(str(self.ann_path))  # ValueError: not an index
                if not meta or meta["dimensions"] != dim:
                    raise ValueError(f"{self.ann_path} is not an index of {dim}-d vectors")
                self._ann_count = int(meta["count_present"])
            else:
                self._ann = self._load()  # RuntimeError/ValueError on a damaged file
        elif not lazy_ann:
            self._ann = new_index(dim, expansion_search)

    def _load(self) -> Index:
        index = new_index(self.dim, self.expansion_search)
        if self.ann_path.exists():
            index.load(str(self.ann_path))  # keeps this object's expansion_search
        return index

    @property
    def ann(self) -> Index:
        """The ANN index (loaded from its file on first use)."""
        ann = self._ann
        if ann is None:
            with self._ann_lock:
                if self._ann is None:
                    try:
                        self._ann = self._load()
                    except (RuntimeError, ValueError, OSError) as exc:
                        raise AnnUnreadable(f"{self.ann_path}: {exc}") from exc
                ann = self._ann
        return ann

    @property
    def ann_loaded(self) -> bool:
        return self._ann is not None

    def ann_size(self) -> int:
        """Vectors in the ANN index, without loading it."""
        ann = self._ann
        return len(ann) if ann is not None else self._ann_count

    def release_ann(self) -> None:
        """Drop the in-memory ANN index (saved first by the caller); the next use loads it.
        A search running in another thread keeps its reference until it returns."""
        with self._ann_lock:
            if self._ann is not None:
                self._ann_count = len(self._ann)
                self._ann = None

    def changed_on_disk(self) -> bool:
        """Whether another writer saved the ANN file since this object read or wrote it."""
        try:
            return self.ann_path.stat().st_mtime != self._ann_mtime
        except OSError:
            return self._ann_mtime != 0.0

    def rows_stored(self) -> int:
        return self.flat.stat().st_size // (2 * self.dim) if self.flat.exists() else 0

    def matrix(self) -> np.ndarray:
        """All rows, memory-mapped read-only (re-mapped when the file grew)."""
        n = self.rows_stored()
        if self._matrix is None or n != self._matrix_rows:
            self._matrix = (
                np.memmap(self.flat, dtype=np.float16, mode="r", shape=(n, self.dim))
                if n
                else np.zeros((0, self.dim), dtype=np.float16)
            )
            self._matrix_rows = n
        return self._matrix

    def matrix32(self) -> np.ndarray:
        """All rows as float32, for exact scans of small indexes (callers keep it small).

        Converting the float16 file on every query cost most of an uncached search; the copy
        is kept until the file changes (grows, or is rewritten by this or another process).
        """
        try:
            st = self.flat.stat()
            key = (st.st_size // (2 * self.dim), st.st_mtime_ns)
        except OSError:
            key = (0, 0)
        if self._matrix32 is None or key != self._matrix32_key:
            self._matrix32 = np.asarray(self.matrix(), dtype=np.float32)
            self._matrix32_key = key
        return self._matrix32

    def write(self, rows: Sequence[int], vecs: np.ndarray) -> None:
        """Store vectors at rows (growing the file) and put them in the ANN index."""
        if not len(rows):
            return
        need = max(rows) + 1
        have = self.rows_stored()
        mode = "r+" if self.flat.exists() else "w+"
        if need > have:
            with open(self.flat, "ab") as fh:
                fh.truncate((need) * 2 * self.dim)
            mode = "r+"
        shape = (max(need, have), self.dim)
        mm = np.memmap(self.flat, dtype=np.float16, mode=mode, shape=shape)  # type: ignore[call-overload]
        data = vecs.astype(np.float16)
        mm[list(rows)] = data
        mm.flush()
        del mm
        self._matrix = None
        self._matrix32 = None
        ann = self.ann
        keys = np.asarray(rows, dtype=np.uint64)
        present = [k for k in keys if ann.contains(int(k))]
        for k in present:
            ann.remove(int(k))
        ann.add(keys, data)

    def rebuild_ann(self, rows: int) -> int:
        """A new ANN index from the first `rows` rows of the vector file (no re-embedding);
        rows of zeros (not embedded) are left out. Returns how many were added."""
        ann = new_index(self.dim, self.expansion_search)
        m = self.matrix()
        added = 0
        for start in range(0, min(rows, len(m)), 20_000):
            block = np.asarray(m[start : min(rows, start + 20_000)])
            keep = np.flatnonzero(np.any(block != 0, axis=1))
            if len(keep):
                ann.add((keep + start).astype(np.uint64), block[keep])
                added += len(keep)
        with self._ann_lock:
            self._ann = ann
        return added

    def checksum(self, rows: int) -> int:
        """CRC-32 of the first `rows` rows of the vector file."""
        return file_crc(self.flat, rows * 2 * self.dim) if self.flat.exists() else 0

    def save(self) -> None:
        if self._ann is None:  # never loaded, or released after saving: the file is current
            return
        tmp = self.ann_path.with_suffix(".tmp")
        self._ann.save(str(tmp))
        os.replace(tmp, self.ann_path)
        self._ann_mtime = self.ann_path.stat().st_mtime

    def read_rows(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """These rows as float32, read with `pread` (see the module docstring); rows past
        the end of the file read as zeros."""
        width = 2 * self.dim
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        if not len(rows) or not self.flat.exists():
            return out
        fd = os.open(self.flat, os.O_RDONLY)
        try:
            raw = bytearray(len(rows) * width)
            view = memoryview(raw)
            for i, r in enumerate(rows):
                got = os.pread(fd, width, int(r) * width)
                view[i * width : i * width + len(got)] = got
        finally:
            os.close(fd)
        out[:] = np.frombuffer(raw, dtype=np.float16).reshape(len(rows), self.dim)
        return out

    def scores(self, rows: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Cosine of the query with each row (0 for rows not embedded yet)."""
        if not len(rows):
            return {}
        n = self.rows_stored()
        inside = [r for r in rows if r < n]
        sims = (self.read_rows(inside) @ query) if inside else np.zeros(0)
        out = dict.fromkeys(rows, 0.0)
        out.update(zip(inside, (float(s) for s in sims), strict=False))
        return out

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """ANN top-k rows by cosine."""
        if self.ann_size() == 0 or k <= 0:
            return []
        res = self.ann.search(query.astype(np.float16), k)
        return [(int(key), 1.0 - float(d)) for key, d in zip(res.keys, res.distances, strict=False)]

    def top(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k rows nearest `query`: an exact scan for small indexes, else the ANN."""
        if self.ann_size() <= EXACT_BELOW:
            m = self.matrix32()  # cached float32 copy (at most EXACT_BELOW x dim)
            if not len(m):
                return []
            sims = m @ query
            best = np.argsort(-sims)[:k]
            return [(int(r), float(sims[r])) for r in best if sims[r] != 0]
        return self.nearest(query, k)

    def vector(self, row: int) -> np.ndarray | None:
        if row >= self.rows_stored():
            return None
        v = self.read_rows([row])[0]
        return v if np.any(v) else None
