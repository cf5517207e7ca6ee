"""Shared test fixtures: real temp SQLite stores, the real fixture files, the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """The directory of real service responses and data samples used by the tests."""
    return FIXTURES


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """An empty SQLite store in a temp file, closed after the test."""
    store = SqliteStore(tmp_path / "store" / "paperfeed.sqlite3")
    try:
        yield store
    finally:
        store.close()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh data directory for CLI and app tests."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def cli(data_dir: Path) -> Callable[..., CliResult]:
    """Run `paperfeed --data-dir <tmp> ARGS...` in-process through Typer's CliRunner."""
    from paperfeed.cli import app

    def run(*args: str, input: str | None = None) -> CliResult:
        result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], input=input)
        return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)

    return run
