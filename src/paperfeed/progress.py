"""Progress of long jobs (ingest, index builds, digest sends): the one reporter they all use.

On a terminal it draws a rich bar on stderr. Elsewhere (cron, CI, a pipe, the background
index worker) it logs plain lines on the `paperfeed.progress` logger: when a task starts,
every `every` seconds while it runs, and when it ends. The CLI shows those INFO lines on
stderr; a library caller sees them if its logging lets INFO through.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

log = logging.getLogger("paperfeed.progress")


class Progress:
    """Reports how far a job has got, task by task (an input file, an index phase, ...).

    `start(task, total)` begins a task, `update(done)` / `advance()` move it on,
    `finish()` ends the job. `phase(task, done, total)` is the same as a plain callback,
    for code that takes `Callable[[str, int, int], None]` (the search indexer).
    """

    def __init__(
        self, *, enabled: bool = True, bar: bool | None = None, every: float = 5.0
    ) -> None:
        self.enabled = enabled
        self.every = every
        self._use_bar = enabled and (sys.stderr.isatty() if bar is None else bar)
        self._bar: RichProgress | None = None
        self._task_id: TaskID | None = None
        self._task = ""
        self._total: int | None = None
        self._done = 0
        self._note = ""
        self._last_log = 0.0

    # --- a task -------------------------------------------------------------------------

    def start(self, task: str, total: int | None = None) -> None:
        """Begin `task`, of `total` units when known (bytes, papers, subscribers)."""
        if not self.enabled:
            return
        self._end_task()
        self._task, self._total, self._done, self._note = task, total, 0, ""
        if self._use_bar:
            bar = self._bar or self._start_bar()
            self._task_id = bar.add_task(task[-40:], total=total, note="")
        else:
            self._last_log = time.monotonic()
            log.info("%s: started", task)

    def update(self, done: int, *, note: str = "") -> None:
        """The current task has done `done` units; `note` says what in words ("12 records")."""
        if not self.enabled:
            return
        self._done, self._note = done, note
        if self._bar is not None and self._task_id is not None:
            self._bar.update(self._task_id, completed=done, note=note)
        elif time.monotonic() - self._last_log >= self.every:
            self._last_log = time.monotonic()
            log.info("%s", self.line())

    def advance(self, step: int = 1) -> None:
        """One more unit (or `step`) of the current task done."""
        self.update(self._done + step)

    def phase(self, task: str, done: int, total: int) -> None:
        """Callback form: starts `task` when it changes, ends it when `done` reaches `total`."""
        if not self.enabled:
            return
        if task != self._task or self._total is None:
            self.start(task, total)
        self.update(done)
        if done >= total:
            self._end_task()

    def finish(self) -> None:
        """The job is over: log the last line of the current task, stop the bar."""
        if not self.enabled:
            return
        self._end_task()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def line(self) -> str:
        """The current task's state as one plain line."""
        share = f" ({100 * self._done / self._total:.0f}%)" if self._total else ""
        if self._note:
            return f"{self._task}: {self._note}{share}"
        of = f"/{self._total}" if self._total is not None else ""
        return f"{self._task}: {self._done}{of}{share}"

    # --- internals ----------------------------------------------------------------------

    def _end_task(self) -> None:
        if self._task and self._bar is None:
            log.info("%s (done)", self.line())
        self._task, self._task_id, self._total = "", None, None

    def _start_bar(self) -> RichProgress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[note]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        return self._bar
