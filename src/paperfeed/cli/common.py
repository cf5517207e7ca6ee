"""What every command group shares: global options, the store, errors as one line, output.

Every line the CLI writes goes through `say` (or `echo_json`), which neutralises what a
terminal would act on in imported text: escape sequences (ESC [, OSC 8 hyperlinks), BEL and
the other C0/C1 controls, and bidirectional overrides that reorder what is shown.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from paperfeed.errors import PaperfeedError
from paperfeed.settings import Settings, load_settings
from paperfeed.store import Store, open_store
from paperfeed.store.failures import storage_error

# C0 controls but tab, newline and the CR of a CRLF, DEL, C1 controls, bidi marks,
# embeddings, overrides and isolates, and the Unicode line/paragraph separators.
_TERMINAL_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)


def terminal_safe(text: str) -> str:
    """`text` with every character a terminal would act on shown as `\\uXXXX` instead.

    The same form is a JSON string escape, so JSON output stays valid and means the same."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def say(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Write one message for a person (stdout, or stderr with `err`), terminal-safe."""
    typer.echo(terminal_safe(str(message)), err=err, nl=nl)


class ErrorsAsMessages(TyperGroup):
    """Turns our exceptions into one `Error: ...` line on stderr and a non-zero exit."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            say(f"Error: {exc.message}", err=True)
            raise typer.Exit(2 if exc.status_code == 400 else 1) from None
        except (OSError, sqlite3.OperationalError, ValueError) as exc:
            # files written outside the store (search indexes, secret key): disk problems
            problem = storage_error(exc, state.data_dir or state.settings.data_dir)
            if problem is None:
                raise
            say(f"Error: {problem.message}", err=True)
            raise typer.Exit(1) from None


class State:
    """Global options, resolved lazily into settings and a store."""

    data_dir: Path | None = None
    database_url: str | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides())
        return self._settings

    def overrides(self) -> dict[str, object]:
        """The settings given as global options (they beat the environment)."""
        return {"data_dir": self.data_dir, "database_url": self.database_url}


state = State()


@contextmanager
def opened_store(*, existing: bool = False) -> Iterator[Store]:
    """The configured store, closed when the command is done; `existing` for commands that
    only read (a SQLite database that is not there is an error, never created)."""
    store = open_store(state.settings, existing=existing)
    try:
        yield store
    finally:
        store.close()


class _StderrLines(logging.Handler):
    """Writes each record's message as one line on the current sys.stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(terminal_safe(self.format(record)), file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a closed stderr must not break the job
            self.handleError(record)


def show_progress_lines() -> None:
    """Show long jobs' progress lines (`paperfeed.progress`) plainly on stderr."""
    progress_log = logging.getLogger("paperfeed.progress")
    if not any(isinstance(h, _StderrLines) for h in progress_log.handlers):
        progress_log.addHandler(_StderrLines())
    progress_log.setLevel(logging.INFO)
    progress_log.propagate = False


def echo_json(value: Any) -> None:
    """`value` as one line of JSON (non-ASCII kept readable, controls escaped)."""
    say(json.dumps(value, ensure_ascii=False))
