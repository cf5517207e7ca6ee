"""Keeping the search indexes in step with the store: incremental sync, rebuild, repair."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from search_helpers import CS_SAMPLE, WEB_PAPERS, make_env, paper

from paperfeed.ingest import ingest_sources
from paperfeed.search import SearchService, sync_keyword_index
from paperfeed.search.follow import following_imports
from paperfeed.search.keyword import KeywordIndex
from paperfeed.store.sqlite import SqliteStore


def ids(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.paper_id for h in results]


def test_new_paper_is_findable_by_keyword_at_once_and_by_meaning_after_sync(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path, WEB_PAPERS)
    service = SearchService(store, settings, background=False)
    try:
        assert service.status().vectors_pending == 0
        store.upsert_papers(
            [
                paper(
                    "2502.00001",
                    "Quokka gradient surgery",
                    "We introduce quokka surgery for gradients of marsupial networks.",
                )
            ]
        )
        assert sync_keyword_index(store, settings) == 1  # what `paperfeed ingest` calls
        status = service.status()
        assert status.keyword_pending == 0 and status.vectors_pending == 1
        assert ids(service.search("quokka", limit=3))[0] == "2502.00001"
        assert service.sync_vectors() == 1
        assert service.status().vectors_pending == 0
        hit = service.search("marsupial gradient surgery", limit=3).hits[0]
        assert hit.paper_id == "2502.00001" and hit.dense > 0.3
    finally:
        service.close()
        store.close()


def test_a_new_version_replaces_the_old_one_in_both_indexes(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path, WEB_PAPERS)
    store.upsert_papers(
        [paper("2502.00002", "Wombat tokenizers", "Wombat tokenizers split words.")]
    )
    service = SearchService(store, settings, background=False)
    try:
        assert ids(service.search("wombat", limit=5))[0] == "2502.00002"
        store.upsert_papers(
            [
                paper(
                    "2502.00002",
                    "Platypus tokenizers",
                    "Platypus tokenizers merge words.",
                    version=2,
                )
            ]
        )
        service.sync_keyword()
        service.sync_vectors()
        old_words = service.search("wombat", limit=5)
        assert old_words.mode == "meaning" and all(h.keyword == 0 for h in old_words)
        assert ids(service.search("platypus", limit=5)).count("2502.00002") == 1
        assert service.status().papers_indexed == 91
    finally:
        service.close()
        store.close()


def test_background_worker_catches_up(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path, WEB_PAPERS)
    service = SearchService(store, settings, background=True, poll_seconds=0.1)
    try:
        store.upsert_papers([paper("2502.00003", "Echidna attention", "Spiny attention heads.")])
        import time

        deadline = time.monotonic() + 30
        while service.status().vectors_pending and time.monotonic() < deadline:
            time.sleep(0.1)
        status = service.status()
        assert status.vectors_pending == 0 and status.keyword_pending == 0
    finally:
        service.close()
        store.close()


def test_rebuild_gives_the_same_results(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path, WEB_PAPERS)
    service = SearchService(store, settings, background=False)
    try:
        before = ids(service.search("video generation agents", limit=10))
        seen: list[str] = []
        status = service.rebuild(progress=lambda phase, done, total: seen.append(phase))
        assert {"keyword", "vectors"} <= set(seen)
        assert status.vectors_pending == 0 and status.papers_indexed == 90 and status.vectors == 90
        assert ids(service.search("video generation agents", limit=10)) == before
    finally:
        service.close()
        store.close()


def test_startup_repairs_a_killed_indexer(tmp_path: Path) -> None:
    """Kill `paperfeed index --rebuild` while it embeds; the next start finishes the job."""
    settings, store = make_env(tmp_path, CS_SAMPLE)
    total = store.stats().papers
    store.close()
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "index", "--rebuild"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("vectors:"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    state = json.loads((settings.index_dir / "state.json").read_text())
    assert state["keyword_seq"] > 0
    assert state["vector_seq"] < total  # killed part-way through embedding

    store = SqliteStore(settings.sqlite_path)
    service = SearchService(store, settings, background=False)  # start-up repair
    try:
        status = service.status()
        assert status.keyword_pending == 0 and status.vectors_pending == 0
        assert status.papers_indexed == total and status.vectors == total
        assert len(service.search("reinforcement learning", limit=5)) == 5
    finally:
        service.close()
        store.close()


def test_copied_data_dir_with_lagging_index_is_repaired(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path / "a", WEB_PAPERS)
    SearchService(store, settings, background=False).close()
    store.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    settings_b, store_b = make_env(tmp_path / "b")
    store_b.upsert_papers([paper("2502.00004", "Numbat pruning", "Numbat pruning of networks.")])
    service = SearchService(store_b, settings_b, background=False)
    try:
        assert service.status().vectors_pending == 0
        assert ids(service.search("numbat", limit=1)) == ["2502.00004"]
    finally:
        service.close()
        store_b.close()


def test_index_from_another_database_is_rebuilt(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path, WEB_PAPERS)
    SearchService(store, settings, background=False).close()
    store.close()
    settings.sqlite_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(settings.sqlite_path) + suffix).unlink(missing_ok=True)
    settings, store = make_env(tmp_path)
    store.upsert_papers([paper("2502.00005", "Bilby sampling", "Bilby sampling of posteriors.")])
    service = SearchService(store, settings, background=False)
    try:
        status = service.status()
        assert status.papers_indexed == 1 and status.vectors == 1
        assert ids(service.search("bilby", limit=5)) == ["2502.00005"]
    finally:
        service.close()
        store.close()


def test_changing_the_embedder_re_embeds(tmp_path: Path) -> None:
    settings, store = make_env(tmp_path, WEB_PAPERS)
    SearchService(store, settings, background=False).close()
    state_path = settings.index_dir / "state.json"
    state = json.loads(state_path.read_text())
    state["embedder"] = "some-other-model"
    state_path.write_text(json.dumps(state))
    service = SearchService(store, settings, background=False)
    try:
        assert json.loads(state_path.read_text())["embedder"] == service.embedder.name
        assert service.status().vectors == 90
    finally:
        service.close()
        store.close()


def test_paper_ingested_by_another_process_is_found_by_a_running_service(tmp_path: Path) -> None:
    """`paperfeed ingest` (a separate process) while the web app's service is open."""
    settings, store = make_env(tmp_path, WEB_PAPERS)
    service = SearchService(store, settings, background=False)
    try:
        new = tmp_path / "new.jsonl"
        record = {
            "arxiv_id": "2502.00006",
            "title": "Kookaburra decoding for speech models",
            "abstract": "We decode speech with a kookaburra beam that laughs at errors.",
            "authors": ["A. Person"],
            "categories": ["cs.CL"],
        }
        new.write_text(json.dumps(record) + "\n")
        env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path)}
        subprocess.run(
            [sys.executable, "-m", "paperfeed", "ingest", str(new)],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        results = service.search("kookaburra", limit=3)
        assert [h.paper_id for h in results if h.keyword > 0] == ["2502.00006"]
        assert results.hits[0].paper_id == "2502.00006"
        assert service.status().vectors_pending == 1
        service.sync_vectors()
        assert service.search("laughing bird beam search for audio", limit=5).mode == "hybrid"
    finally:
        service.close()
        store.close()


def _keyword_state(settings) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(documents in the keyword index, change sequence it has caught up to), read as is."""
    docs = KeywordIndex(settings.index_dir / "keyword").num_docs()
    return docs, json.loads((settings.index_dir / "state.json").read_text())["keyword_seq"]


def test_keyword_index_built_beside_an_import_has_every_paper_once(tmp_path: Path) -> None:
    """The follower indexes full batches while the import runs; the rest on leaving."""
    settings, store = make_env(tmp_path, WEB_PAPERS)
    try:
        sync_keyword_index(store, settings)
        with following_imports(store, settings, batch=500):
            ingest_sources(store, [str(CS_SAMPLE)], batch_size=100)
            deadline = time.monotonic() + 60  # the thread indexes before the block ends
            while _keyword_state(settings)[1] < 500 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _keyword_state(settings)[1] >= 500
        papers = store.stats().papers
        assert papers > 3000 and _keyword_state(settings) == (papers, store.last_seq())
        # A second import of the same papers, one of them newer: replaced, never doubled.
        newer = tmp_path / "newer.jsonl"
        newer.write_text(
            json.dumps(
                {
                    "arxiv_id": "2502.00099",
                    "title": "Numbat attention",
                    "abstract": "Numbat attention for termite-shaped sequences.",
                }
            )
            + "\n"
        )
        with following_imports(store, settings, batch=500):
            ingest_sources(store, [str(CS_SAMPLE), str(WEB_PAPERS), str(newer)])
        assert _keyword_state(settings) == (papers + 1, store.last_seq())
    finally:
        store.close()
    service = SearchService(SqliteStore(settings.sqlite_path), settings, background=False)
    try:
        assert ids(service.search("numbat termite", limit=3))[:1] == ["2502.00099"]
    finally:
        service.close()
        service.store.close()


_FOLLOWED_IMPORT = """
import sys
from paperfeed.ingest import ingest_sources
from paperfeed.search.follow import following_imports
from paperfeed.settings import load_settings
from paperfeed.store.sqlite import SqliteStore
settings = load_settings(data_dir=sys.argv[1])
store = SqliteStore(settings.sqlite_path)
with following_imports(store, settings, batch=300):
    ingest_sources(store, [sys.argv[2]], batch_size=100)
"""


def test_import_killed_while_the_index_follows_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL once the follower has committed part of the index; a rerun completes both."""
    for attempt in range(5):
        data = tmp_path / f"data{attempt}"
        settings, store = make_env(data)
        store.close()
        proc = subprocess.Popen(
            [sys.executable, "-c", _FOLLOWED_IMPORT, str(data), str(CS_SAMPLE)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        state = settings.index_dir / "state.json"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if state.exists() and json.loads(state.read_text())["keyword_seq"] > 0:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            break
    assert proc.returncode == -signal.SIGKILL, "the import always finished before the kill"
    store = SqliteStore(settings.sqlite_path)
    try:
        docs, seq = _keyword_state(settings)
        assert 0 < seq <= store.last_seq() and docs <= store.stats().papers
    finally:
        store.close()
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data)}
    rerun = subprocess.run(
        [sys.executable, "-m", "paperfeed", "ingest", str(CS_SAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    store = SqliteStore(settings.sqlite_path)
    try:
        assert store.stats().papers == 3000
        assert _keyword_state(settings) == (3000, store.last_seq())
    finally:
        store.close()
