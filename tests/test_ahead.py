"""`Ahead`: the query vector is computed in a thread while the keyword index is searched."""

from __future__ import annotations

import threading

import pytest

from paperfeed.search.ahead import Ahead


def test_ahead_runs_in_another_thread_and_returns_its_value() -> None:
    started = threading.Event()
    release = threading.Event()

    def compute() -> str:
        started.set()
        assert release.wait(5)
        return threading.current_thread().name

    ahead = Ahead(compute)
    assert started.wait(5)  # already running while the caller goes on
    release.set()
    assert ahead.result() == "ahead" != threading.current_thread().name
    assert ahead.result() == "ahead"  # the value is kept


def test_ahead_raises_the_error_of_its_computation_in_the_caller() -> None:
    def compute() -> int:
        raise ValueError("bad query")

    ahead = Ahead(compute)
    with pytest.raises(ValueError, match="bad query"):
        ahead.result()
