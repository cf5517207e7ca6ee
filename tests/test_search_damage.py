"""Damaged search indexes: each is found at start-up by comparing it with the store and with
`state.json` (counts, sizes, checksums) and rebuilt; `paperfeed index` never crashes on one;
`paperfeed index --rebuild` works from any state of the index directory; a paper page never
fails because "similar papers" failed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from search_helpers import WEB_PAPERS, make_env

from paperfeed.search import SearchService
from paperfeed.settings import Settings
from paperfeed.store.sqlite import SqliteStore

QUERIES = ("video generation agents", "reinforcement learning reward", "diffusion language")


def rankings(service: SearchService) -> list[list[str]]:
    return [service.search(q, limit=10, with_papers=False).ids for q in QUERIES]


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Settings, list[list[str]]]]:
    """A data dir with complete indexes, and the rankings they give."""
    settings, store = make_env(tmp_path, WEB_PAPERS)
    service = SearchService(store, settings, background=False)
    before = rankings(service)
    service.close()
    store.close()
    yield settings, before


def reopen(settings: Settings) -> tuple[SearchService, SqliteStore]:
    store = SqliteStore(settings.sqlite_path)
    return SearchService(store, settings, background=False), store


def assert_whole(settings: Settings, before: list[list[str]]) -> None:
    service, store = reopen(settings)
    try:
        status = service.status()
        assert status.papers_indexed == 90 and status.keyword_pending == 0
        assert status.vectors == 90 and status.vectors_pending == 0
        assert rankings(service) == before
    finally:
        service.close()
        store.close()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_emptied_keyword_directory_is_rebuilt(built) -> None:  # noqa: ANN001
    settings, before = built
    keyword = settings.index_dir / "keyword"
    shutil.rmtree(keyword)
    keyword.mkdir()
    assert_whole(settings, before)


def test_truncated_vectors_are_re_embedded(built) -> None:  # noqa: ANN001
    settings, before = built
    flat = settings.index_dir / "vectors.f16"
    with open(flat, "r+b") as fh:
        fh.truncate(flat.stat().st_size // 2)
    assert_whole(settings, before)


def test_overwritten_vectors_are_found_by_checksum(built) -> None:  # noqa: ANN001
    settings, before = built
    flat = settings.index_dir / "vectors.f16"
    with open(flat, "r+b") as fh:
        fh.seek(1000)
        fh.write(os.urandom(4000))  # same size, other bytes
    assert_whole(settings, before)


def test_corrupt_ann_index(built) -> None:  # noqa: ANN001
    settings, before = built
    ann = settings.index_dir / "ann.usearch"
    ann.write_bytes(os.urandom(ann.stat().st_size))
    status = cli(settings, "index", "--json")  # reports, never crashes
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["damaged"]
    assert_whole(settings, before)


def test_garbage_in_tantivy_meta_json(built) -> None:  # noqa: ANN001
    settings, before = built
    (settings.index_dir / "keyword" / "meta.json").write_text("{not json at all")
    status = cli(settings, "index", "--json")
    assert status.returncode == 0, status.stderr
    assert "keyword" in json.loads(status.stdout)["damaged"]
    assert_whole(settings, before)


def test_rebuild_works_from_any_state_of_the_index_directory(built) -> None:  # noqa: ANN001
    settings, before = built
    index = settings.index_dir
    (index / "keyword" / "meta.json").write_text("garbage")
    (index / "ann.usearch").write_bytes(b"\x00" * 100)
    (index / "vectors.f16").write_bytes(b"\x01" * 7)
    (index / "state.json").write_text("[1, 2")
    (index / "rows.txt").write_text("not-a-paper\n" * 5)
    done = cli(settings, "index", "--rebuild")
    assert done.returncode == 0, done.stderr
    assert_whole(settings, before)
    shutil.rmtree(index)
    index.write_text("a file where the index directory should be")
    done = cli(settings, "index", "--rebuild")
    assert done.returncode == 0, done.stderr
    assert_whole(settings, before)


def test_paper_page_survives_similar_papers_failing(tmp_path: Path) -> None:
    import uvicorn

    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    settings, store = make_env(tmp_path, WEB_PAPERS)
    SearchService(store, settings, background=False).close()
    paper_id = store.list_papers(limit=1)[0].paper.id
    store.close()
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key-damage")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        assert httpx.get(f"{url}/papers/{paper_id}", timeout=60).status_code == 200
        # damage the files under the running service (another process rewrote them badly)
        index = settings.index_dir
        (index / "ann.usearch").write_bytes(os.urandom(5000))
        (index / "vectors.f16").write_bytes(b"")
        state = index / "state.json"
        os.utime(state, (time.time() + 5, time.time() + 5))  # the service follows state.json
        page = httpx.get(f"{url}/papers/{paper_id}", timeout=60)
        assert page.status_code == 200 and paper_id in page.text
        found = httpx.get(f"{url}/search", params={"q": "video generation"}, timeout=60)
        assert found.status_code == 200 and 'class="card"' in found.text
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_status_page_compares_sizes_and_counts_without_reading_vector_files(
    tmp_path: Path,
) -> None:
    """/admin/search reloads itself every 15 s while the backfill runs, so it reads counts and
    file sizes only (a truncated file is still reported); checksums of whole vector files
    are for `paperfeed index`, the doctor and start-up repair."""
    import re

    from conftest import Visitor, _start_server

    servers = _start_server(tmp_path / "data")
    server = next(servers)
    admin = Visitor(server)
    static_row = re.compile(
        r'data-index="static"><td>Static vectors.*?<td>(\d+)</td><td>(\d+)</td>'
    )
    try:
        admin.sign_up("admin@example.org")  # the first account is the admin
        deadline = time.monotonic() + 60
        while True:  # the server's worker embeds the static vectors after start-up
            page = admin.http.get("/admin/search")
            assert page.status_code == 200
            row = static_row.search(page.text)
            assert row, page.text[-3000:]
            if (int(row.group(1)) > 0 and row.group(2) == "0") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert row.group(2) == "0" and "Damaged" not in page.text
        flat = server.settings.index_dir / "vectors.f16"
        with open(flat, "r+b") as fh:  # same size, other bytes: only a checksum finds it
            fh.seek(1000)
            fh.write(os.urandom(4000))
        page = admin.http.get("/admin/search")
        assert page.status_code == 200 and "Damaged" not in page.text
        status = cli(server.settings, "index", "--json")
        assert status.returncode == 0, status.stderr
        assert "checksum" in json.loads(status.stdout)["damaged"]["vectors"]
        with open(flat, "r+b") as fh:
            fh.truncate(flat.stat().st_size // 2)
        page = admin.http.get("/admin/search")
        assert "Damaged: vectors index: vectors.f16 has" in page.text
    finally:
        admin.close()
        servers.close()
