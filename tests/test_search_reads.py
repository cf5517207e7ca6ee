"""What one web search costs the store: the change sequence (`last_seq`, a database round
trip on PostgreSQL) is read once per search page, page cache and cached ranking included.
Counted as the statements the database itself runs: SQLite's trace callback on its
connections, a private PostgreSQL server's statement log."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from conftest import WEB_FIXTURE, WEB_LATEX, private_postgres
from fastapi.testclient import TestClient

from paperfeed.ingest import ingest_sources
from paperfeed.search import sync_keyword_index
from paperfeed.settings import load_settings
from paperfeed.store import open_store
from paperfeed.web.app import create_app

SEQ_READ = "FROM change_seq"  # Store.last_seq()


@contextmanager
def sqlite_statements(app) -> Iterator[Callable[[], list[str]]]:  # noqa: ANN001
    """The statements every SQLite connection of the app's store runs in the block (each
    thread reads on a connection of its own: the test fails if a new one appears)."""
    db = app.state.store.db
    statements: list[str] = []
    conns: list[sqlite3.Connection] = [*db._readers, db._writer]
    for conn in conns:
        conn.set_trace_callback(statements.append)
    try:
        yield lambda: statements
    finally:
        for conn in conns:
            conn.set_trace_callback(None)
    assert len(db._readers) + 1 == len(conns), "a connection ran untraced"


@contextmanager
def postgres_statements(log: Path) -> Iterator[Callable[[], list[str]]]:
    """The statements the PostgreSQL server logs (log_statement=all) in the block."""
    start = log.stat().st_size
    yield lambda: log.read_bytes()[start:].decode().splitlines()


@pytest.fixture
def served(backend: str, tmp_path: Path) -> Iterator[tuple[TestClient, Callable]]:  # noqa: ANN001
    """A search app over the web fixtures on `backend`, and a counter of its statements."""
    with private_postgres("-c log_statement=all") if backend == "postgres" else nullcontext() as pg:
        settings = load_settings(
            data_dir=tmp_path / "data",
            secret_key="test-secret-key-for-web-tests",
            database_url=pg.url if pg else None,
        )
        store = open_store(settings)
        try:
            ingest_sources(store, [str(WEB_FIXTURE)])
            sync_keyword_index(store, settings)
        finally:
            store.close()
        app = create_app(settings)
        with TestClient(app, base_url="http://127.0.0.1") as client:

            def counting():  # noqa: ANN202
                return postgres_statements(pg.log) if pg else sqlite_statements(app)

            yield client, counting


def seq_reads(served, path: str) -> tuple[int, str]:  # noqa: ANN001
    """(change-sequence reads, page) of one GET of `path`."""
    client, counting = served
    client.get("/search?q=warm+up")  # every thread the app uses has its connection
    with counting() as statements:
        page = client.get(path)
        assert page.status_code == 200
    return sum(SEQ_READ in s for s in statements()), page.text


def test_a_web_search_reads_the_change_sequence_once(served, backend) -> None:  # noqa: ANN001
    # anonymous: the page cache reads the data version, the search keys its ranking on it
    reads, page = seq_reads(served, "/search?q=upper+bound")
    assert page.count('class="card"') >= 5
    assert reads == 1
    # filters that remove every match: a second search (without them) for the message
    reads, page = seq_reads(served, "/search?q=upper+bound&category=no.such")
    assert "removed all of them" in page
    assert reads == 1
    # the key is still current: a new paper moves the sequence, the same page then shows it
    client, _ = served
    path = "/search?q=dynamic+layer+tying+reinforcement"
    card = 'data-paper="2401.12819"'  # "Dynamic Layer Tying for Parameter-Efficient ..."
    assert card not in client.get(path).text
    store = client.app.state.store
    ingest_sources(store, [str(WEB_LATEX)])
    sync_keyword_index(store, client.app.state.settings)
    reads, page = seq_reads(served, path)
    assert card in page
    assert reads == 1
