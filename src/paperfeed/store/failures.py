"""Disk problems as one clear sentence: what failed, where, and what to do.

SQLite reports a full disk or a read-only directory as "disk I/O error" or "unable to open
database file"; the file system tells the real cause, so `storage_error` looks at it. Used by
the SQLite store (every connection, migration and write transaction) and, for files written
outside the store (search indexes, the secret key), by the CLI and the web app.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
from pathlib import Path

from paperfeed.errors import StorageError

LOW_SPACE_BYTES = 1 << 20
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}
_RUST_IO = re.compile(r"Os \{ code: (\d+)")
_SQLITE_DISK_WORDS = ("readonly", "read-only", "disk", "unable to open", "full", "i/o error")


def _existing_dir(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


def storage_error(exc: BaseException, where: Path | str | None) -> StorageError | None:
    """The StorageError describing `exc` at `where`, or None if `exc` is no disk problem.

    Understands sqlite3 errors, OSError, and the ValueError tantivy raises for I/O failures
    (`IoError(Os { code: 30, ... })`).
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, ValueError) and not isinstance(exc, sqlite3.Error):
        match = _RUST_IO.search(str(exc))
        if not match:
            return None
        exc = OSError(int(match[1]), os.strerror(int(match[1])))
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if not any(word in text for word in _SQLITE_DISK_WORDS):
            return None
    elif isinstance(exc, OSError):
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            return _file_in_the_way(Path(exc.filename or where or Path.cwd()))
        if exc.errno not in _DISK_ERRNOS:
            return None
        where = exc.filename or where
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and where:
            return _full(Path(where), _existing_dir(Path(where).parent))
    else:
        return None
    path = Path(where) if where else Path.cwd()
    folder = _existing_dir(path if path.is_dir() else path.parent)
    detail = getattr(exc, "strerror", None) or str(exc)
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        free = shutil.disk_usage(folder).free
    except OSError:
        read_only, free = False, LOW_SPACE_BYTES
    if read_only:
        return StorageError(
            f"cannot write {path}: the file system holding {folder} is mounted read-only; "
            "remount it read-write or point --data-dir / PAPERFEED_DATA_DIR at a writable "
            "directory"
        )
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return StorageError(
            f"cannot write {path}: no permission to write in {folder}; give this user write "
            "access to it or point --data-dir / PAPERFEED_DATA_DIR elsewhere"
        )
    if free < LOW_SPACE_BYTES or "full" in str(exc).lower():
        return _full(path, folder)
    return StorageError(f"cannot write {path}: {detail}; check the disk holding {folder}")


def _file_in_the_way(path: Path) -> StorageError | None:
    """A file where a directory must be (the data directory, or a folder above it)."""
    for candidate in reversed((path, *path.parents)):
        if candidate.exists() and not candidate.is_dir():
            return StorageError(
                f"cannot write {path}: {candidate} is a file, not a directory; point "
                "--data-dir / PAPERFEED_DATA_DIR (or PAPERFEED_DATABASE_URL) at a directory"
            )
    return None


def _full(path: Path, folder: Path) -> StorageError:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    return StorageError(
        f"cannot write {path}: the disk holding {folder} is full ({free // 1024} KiB free); "
        "free some space and retry (nothing stored was lost)"
    )


def check_writable(folder: Path) -> None:
    """Write, sync and remove a small probe file in `folder`; StorageError if that fails."""
    probe = folder / ".paperfeed-write-probe"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as f:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise storage_error(exc, probe) or StorageError(f"cannot write {probe}: {exc}") from exc
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
