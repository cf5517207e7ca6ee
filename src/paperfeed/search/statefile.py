"""An index's `state.json`, followed across processes for the cost of one `stat`.

The indexer (`state.json` of the index directory) and the transformer store
(`transformer/state.json`) both keep a small dataclass on disk, written atomically by one
writer and re-read by every other process when it changes. `StateFile` remembers the stamp
of the version it last read or wrote; `changed()` compares it with the file's. The stamp
includes the inode: every write replaces the file (`os.replace`), so a write is seen even
when it lands within the file system's mtime granularity of the previous one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

S = TypeVar("S")
D = TypeVar("D")
Stamp = tuple[int, int, int]  # (inode, mtime in ns, size); zeros when the file is missing


def write_state(path: Path, state: Any) -> None:  # noqa: ANN401 (any dataclass instance)
    """Write a dataclass as JSON atomically (a reader sees the old file or the new one)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, path)


def read_state(path: Path, cls: type[D]) -> D | None:
    """The dataclass `cls` from its JSON file, keys it does not know ignored; None when the
    file is missing or unreadable (each state class decides what that and bad values mean)."""
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def file_stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class StateFile(Generic[S]):
    """One state file: `load` and `save` remember its stamp, `changed` tells whether another
    process has written it since (see the module docstring)."""

    def __init__(self, path: Path, read: Callable[[Path], S]) -> None:
        self.path = path
        self._read = read
        self.stamp: Stamp = (0, 0, 0)

    def load(self) -> S:
        """Read the state (the reader decides what a missing or bad file means)."""
        self.stamp = file_stamp(self.path)  # before reading: a write in between is seen next time
        return self._read(self.path)

    def save(self, state: S) -> None:
        write_state(self.path, state)
        self.stamp = file_stamp(self.path)

    def changed(self) -> bool:
        return file_stamp(self.path) != self.stamp
