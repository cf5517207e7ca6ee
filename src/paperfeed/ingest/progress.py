"""Progress for long imports: a bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID

log = logging.getLogger("paperfeed.ingest")


class Progress(Protocol):
    def start(self, source: str, total_bytes: int | None) -> None: ...
    def update(self, *, records: int, bytes_done: int | None) -> None: ...
    def finish(self) -> None: ...


class SilentProgress:
    def start(self, source: str, total_bytes: int | None) -> None: ...
    def update(self, *, records: int, bytes_done: int | None) -> None: ...
    def finish(self) -> None: ...


class LogProgress:
    """One plain line every `every` seconds (cron, CI, redirected output)."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last = 0.0
        self._source = ""

    def start(self, source: str, total_bytes: int | None) -> None:
        self._source, self._total, self._last = source, total_bytes, time.monotonic()
        print(f"importing {source}", file=sys.stderr, flush=True)

    def update(self, *, records: int, bytes_done: int | None) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            share = (
                f" ({100 * bytes_done / self._total:.0f}%)"
                if self._total and bytes_done is not None
                else ""
            )
            print(f"  {self._source}: {records} records{share}", file=sys.stderr, flush=True)

    def finish(self) -> None: ...


class RichProgress:
    """A rich progress bar over the bytes of each input."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[records]} records"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task: TaskID | None = None

    def start(self, source: str, total_bytes: int | None) -> None:
        if self._task is None:
            self._bar.start()
        self._task = self._bar.add_task(source[-40:], total=total_bytes, records=0)

    def update(self, *, records: int, bytes_done: int | None) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=bytes_done or 0, records=records)

    def finish(self) -> None:
        if self._task is not None:
            self._bar.stop()


def terminal_progress() -> Progress:
    """A bar when stderr is a terminal, periodic log lines when it is not."""
    return RichProgress() if sys.stderr.isatty() else LogProgress()
