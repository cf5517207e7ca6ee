"""Progressive indexing: keyword search at once, static vectors next, and the transformer (the
real bundled ONNX all-MiniLM-L6-v2) filling a second vector index behind them, newest papers
first, resumable after kill -9, with its progress in `paperfeed index` and on /admin/search.

Small corpora (a few dozen real papers of tests/fixtures/web_papers.jsonl) keep each test to
seconds of embedding on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import LiveServer, Visitor, _start_server
from search_helpers import WEB_PAPERS, paper

from paperfeed.ingest import ingest_sources
from paperfeed.search import SearchService, sync_keyword_index
from paperfeed.search import indexer as indexer_module
from paperfeed.search.backfill import EXPANSION_SEARCH
from paperfeed.search.dense import Calibration
from paperfeed.search.embed import OnnxEmbedder, StaticEmbedder, onnx_available, paper_text
from paperfeed.search.indexer import Indexer
from paperfeed.search.vectors import file_crc
from paperfeed.settings import Settings, load_settings
from paperfeed.store.sqlite import SqliteStore

pytestmark = pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")

QUERY = "video generation with diffusion models"


def small_corpus(tmp_path: Path, n: int) -> Path:
    """The first `n` papers of web_papers.jsonl (real HF daily papers of several days)."""
    path = tmp_path / f"papers{n}.jsonl"
    lines = WEB_PAPERS.read_text(encoding="utf-8").splitlines()[:n]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make(tmp_path: Path, n: int, batch: int) -> tuple[Settings, SqliteStore]:
    settings = load_settings(
        data_dir=tmp_path / "data", transformer="onnx", transformer_batch=batch
    )
    store = SqliteStore(settings.sqlite_path)
    ingest_sources(store, [str(small_corpus(tmp_path, n))])
    sync_keyword_index(store, settings)
    return settings, store


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_TRANSFORMER": "onnx",
        "PAPERFEED_TRANSFORMER_BATCH": str(settings.transformer_batch),
    }


def filled_ids(service: SearchService) -> set[str]:
    ix = service.indexer
    ts = ix.tstore
    assert ts is not None
    rows = list(ix.rowmap.rows.items())  # one step: the indexer thread may be adding rows
    return {pid for pid, row in rows if ts.vector(row) is not None}


@pytest.fixture
def twenty_four(tmp_path: Path) -> Iterator[tuple[Settings, SqliteStore]]:
    settings, store = make(tmp_path, 24, batch=4)
    yield settings, store
    store.close()


def test_mixed_state_scores_filled_papers_by_the_transformer(twenty_four) -> None:  # noqa: ANN001
    settings, store = twenty_four
    service = SearchService(store, settings, background=False)  # keyword + static at once
    try:
        status = service.status()
        assert status.vectors == 24 and status.transformer is not None
        assert (status.transformer.done, status.transformer.total) == (0, 24)
        assert service.search(QUERY, limit=5).mode == "hybrid"  # static meaning meanwhile

        assert service.sync_transformer(max_papers=12) == 12
        filled = filled_ids(service)
        assert len(filled) == 12
        papers = {p.paper.id: p.paper for p in store.get_papers(list(service.indexer.rowmap.ids))}
        # newest papers first: every filled paper is at least as new as every other one
        assert min(papers[i].day for i in filled) >= max(
            papers[i].day for i in papers if i not in filled
        )

        hits = service.search(QUERY, limit=24).hits
        assert len(hits) == 24  # every paper is a candidate of so small a corpus
        # the reference: the real models' cosines, computed afresh here
        texts = {i: paper_text(p.title, p.abstract) for i, p in papers.items()}
        onnx, static = OnnxEmbedder(), StaticEmbedder()
        order = sorted(texts)
        s_all = static.embed([texts[i] for i in order]) @ static.embed([QUERY])[0]
        s_cos = dict(zip(order, s_all, strict=True))
        f_order = sorted(filled)
        t_all = onnx.embed([texts[i] for i in f_order]) @ onnx.embed([QUERY])[0]
        t_cos = dict(zip(f_order, t_all, strict=True))
        line = Calibration.fit([s_cos[i] for i in f_order], [t_cos[i] for i in f_order])
        assert line is not None and abs(line.slope - 1) + abs(line.intercept) > 0.05
        for hit in hits:
            if hit.paper_id in filled:  # the transformer's own cosine
                assert abs(hit.dense - t_cos[hit.paper_id]) < 0.02, hit
            else:  # the static cosine, on the transformer's scale
                assert abs(hit.dense - line(s_cos[hit.paper_id])) < 0.02, hit
                assert abs(hit.dense - s_cos[hit.paper_id]) > 0.02, hit
    finally:
        service.close()


def test_the_background_backfill_logs_its_progress_once_per_pass(
    twenty_four, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """`serve`'s worker fills the transformer in slices (one step of 4 papers each here): its
    log says when the backfill starts and ends, not "started" again at every slice."""
    settings, store = twenty_four
    monkeypatch.setattr(indexer_module, "TRANSFORMER_SLICE", 0.0)  # every step is a slice
    caplog.set_level(logging.INFO, logger="paperfeed.progress")
    service = SearchService(store, settings, background=False)
    try:
        service.indexer.poll_seconds = 0.05
        service.start_worker()
        waited = time.monotonic()
        while len(filled_ids(service)) < 24:
            assert time.monotonic() - waited < 120, "the backfill did not finish"
            time.sleep(0.1)
        while not any("(done)" in r.message for r in caplog.records):
            assert time.monotonic() - waited < 120, "no line for the end of the backfill"
            time.sleep(0.05)
    finally:
        service.close()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("transformer")]
    assert lines[0] == "transformer: started"
    assert lines[-1] == "transformer: 24/24 (100%) (done)"
    assert lines.count("transformer: started") == 1, lines


def todays_paper(pid: str, title: str):  # noqa: ANN201
    return paper(
        pid,
        title,
        f"{title}: a marsupial approach to generating videos with diffusion models.",
        published=datetime.now(UTC),
    )


def test_a_new_paper_is_embedded_by_the_transformer_before_older_ones(twenty_four) -> None:  # noqa: ANN001
    """A paper ingested mid-backfill is the next one the transformer takes, ahead of the
    older papers still waiting; in `serve` (the background worker) within a minute."""
    settings, store = twenty_four
    service = SearchService(store, settings, background=False)
    try:
        assert service.sync_transformer(max_papers=4) == 4
        store.upsert_papers([todays_paper("2612.00001", "Quokka video diffusion")])
        sync_keyword_index(store, settings)  # what `paperfeed ingest` does
        assert service.sync_transformer(max_papers=1) == 1  # the next step takes it first
        assert "2612.00001" in filled_ids(service) and len(filled_ids(service)) == 5

        service.indexer.poll_seconds = 0.2
        service.start_worker()  # as `serve` runs it, with 19 older papers still waiting
        store.upsert_papers([todays_paper("2612.00002", "Wombat video diffusion")])
        sync_keyword_index(store, settings)
        ingested = time.monotonic()
        while "2612.00002" not in filled_ids(service):
            assert time.monotonic() - ingested < 60, "not embedded within a minute"
            time.sleep(0.1)
        assert service.search("wombat", limit=1).hits[0].paper_id == "2612.00002"
    finally:
        service.close()


def small_exact_scans(monkeypatch: pytest.MonkeyPatch, below: int) -> None:
    """Make a few papers count as 'many': the ANN indexes (not exact scans) answer, and more
    than `below` papers waiting for the transformer bring the static ANN back."""
    for module in ("vectors", "dense", "backfill", "indexer"):
        monkeypatch.setattr(f"paperfeed.search.{module}.EXACT_BELOW", below)


def test_a_complete_transformer_store_needs_no_static_ann(
    twenty_four,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every paper's transformer vector, search neither loads nor searches the static
    model's ANN index and embeds no static query (memory at 1M papers); a paper waiting for
    its transformer vector is still found by meaning, through an exact static scan of the
    waiting papers; with many waiting, the static ANN answers again."""
    settings, store = twenty_four
    small_exact_scans(monkeypatch, 4)
    SearchService(store, settings, background=False).close()  # keyword + static vectors
    service = SearchService(store, settings, background=False)
    try:
        ix = service.indexer
        assert service.sync_transformer(max_papers=12) == 12  # 12 of 24 wait: more than 4
        service.search(QUERY, limit=5)
        assert ix.vectors.ann_loaded  # many papers wait: the static ANN finds them
        assert service.sync_transformer() == 12
    finally:
        service.close()

    service = SearchService(store, settings, background=False)  # as a fresh web process
    try:
        ix = service.indexer
        static_queries: list[str] = []
        embed = ix.embedder.embed
        monkeypatch.setattr(
            ix.embedder, "embed", lambda texts: static_queries.extend(texts) or embed(texts)
        )
        hits = service.search(QUERY, limit=10).hits
        assert not ix.vectors.ann_loaded and static_queries == []
        ts = ix.tstore
        assert ts is not None and ts.vectors.ann.expansion_search == EXPANSION_SEARCH
        papers = {p.paper.id: p.paper for p in store.get_papers(list(ix.rowmap.ids))}
        onnx = OnnxEmbedder()
        q = onnx.embed([QUERY])[0]
        exact = {
            i: float(onnx.embed([paper_text(p.title, p.abstract)])[0] @ q)
            for i, p in papers.items()
        }
        for hit in hits:  # every score is the transformer's own cosine
            assert abs(hit.dense - exact[hit.paper_id]) < 0.02, hit
        nearest = sorted(exact, key=lambda i: -exact[i])[:3]
        assert set(nearest) <= set(service.search(QUERY, limit=24).ids)

        # a new paper: static vector at once, transformer vector still to come
        store.upsert_papers(
            [
                paper(
                    "2612.00003",
                    "Quokkas hopping through synthesised clips",
                    "A denoising generative model renders short films of marsupials.",
                    published=datetime.now(UTC),
                )
            ]
        )
        sync_keyword_index(store, settings)
        assert service.sync_vectors() == 1
        assert not ix.vectors.ann_loaded  # written, then dropped: one paper waits
        found = service.search("animated footage made by diffusion", limit=25)
        assert not ix.vectors.ann_loaded
        new = [h for h in found.hits if h.paper_id == "2612.00003"]
        assert new and new[0].keyword == 0.0  # no shared word: found by its static cosine
        assert static_queries[-1] == "animated footage made by diffusion"
    finally:
        service.close()


def test_damaged_transformer_vectors_are_embedded_again(tmp_path: Path) -> None:
    """At open, a filled row whose vector is not a unit vector, or lies past the end of a
    truncated vector file, is put back to embed (read in blocks, not through a map)."""
    settings, store = make(tmp_path, 12, batch=4)
    service = SearchService(store, settings, background=False)
    try:
        assert service.sync_transformer() == 12
    finally:
        service.close()
    flat = settings.index_dir / "transformer" / "vectors.f16"
    width = 2 * 384
    data = bytearray(flat.read_bytes())
    data[3 * width : 4 * width] = np.full(384, 0.5, dtype=np.float16).tobytes()  # norm ~9.8
    flat.write_bytes(bytes(data[: 11 * width]))  # and the last row is gone
    service = SearchService(store, settings, background=False)
    try:
        t = service.status().transformer
        assert t is not None and (t.done, t.total) == (10, 12)
        assert service.sync_transformer() == 2
        ts = service.indexer.tstore
        assert ts is not None
        for row in range(12):
            vec = ts.vector(row)
            assert vec is not None and abs(float(np.linalg.norm(vec)) - 1.0) < 0.01
    finally:
        service.close()
        store.close()


def test_a_killed_backfill_resumes_without_losing_or_corrupting_vectors(
    tmp_path: Path,
    cli,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`paperfeed index --sync` killed with SIGKILL mid-backfill; the rerun completes it."""
    settings, store = make(tmp_path, 16, batch=2)
    watcher = Indexer(store, settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "index", "--sync"],
        env=cli_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while watcher.transformer_progress().done < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed_at = watcher.transformer_progress().done
    assert 2 <= killed_at < 16  # killed part-way through the backfill
    ts = watcher.tstore
    assert ts is not None
    kept = {r: ts.vector(r) for r in range(16) if ts.vector(r) is not None}
    assert len(kept) >= 2

    for name, value in cli_env(settings).items():
        if name.startswith("PAPERFEED_"):
            monkeypatch.setenv(name, value)
    rerun = cli("index", "--sync", "--json")  # the same data directory
    assert rerun.exit_code == 0, rerun.output[-2000:]
    t = json.loads(rerun.stdout)["transformer"]
    assert (t["done"], t["total"], t["pending"]) == (16, 16, 0)

    service = SearchService(store, settings, background=False)
    try:
        ix = service.indexer
        ts = ix.tstore
        assert ts is not None and ts.filled() == 16
        assert len(ts.vectors.ann) == 16  # each paper once in the ANN index: no duplicates
        rows = [ix.rowmap.rows[i] for i in ix.rowmap.ids]
        vecs = np.stack([ts.vector(r) for r in rows])  # type: ignore[misc]
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=0.01)
        for row, vec in zip(rows, vecs, strict=True):  # each finds itself first
            assert ts.top(vec, 1)[0][0] == row
        # the vectors are the model's for each paper's text (killed steps redone whole)
        papers = {p.paper.id: p.paper for p in store.get_papers(list(ix.rowmap.ids))}
        fresh = OnnxEmbedder().embed(
            [paper_text(papers[i].title, papers[i].abstract) for i in ix.rowmap.ids]
        )
        assert np.min(np.sum(fresh * vecs, axis=1)) > 0.98
        for row, vec in kept.items():  # what was finished before the kill is still there
            assert np.array_equal(ts.vector(row), vec)
    finally:
        service.close()
        store.close()


def test_rebuild_blocks_until_the_transformer_is_complete(tmp_path: Path, cli, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PAPERFEED_TRANSFORMER", "onnx")
    assert cli("ingest", str(small_corpus(tmp_path, 12))).exit_code == 0
    result = cli("index", "--rebuild", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["papers_indexed"] == status["vectors"] == 12
    t = status["transformer"]
    assert t["model"].startswith("onnx:minilm") and (t["done"], t["total"]) == (12, 12)
    text = cli("index")
    assert text.exit_code == 0
    assert "transformer (onnx:minilm" in text.stdout and "12 of 12 papers (100.0%)" in text.stdout


@pytest.fixture(scope="module")
def filling_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server whose transformer backfill runs in its background worker."""
    data = tmp_path_factory.mktemp("progressive-web") / "data"
    yield from _start_server(data, None, transformer="onnx", transformer_batch=4)


def test_admin_page_shows_the_backfill_progress_to_admins_only(filling_server) -> None:  # noqa: ANN001
    anonymous, admin, user = (Visitor(filling_server) for _ in range(3))
    try:
        page = anonymous.http.get("/admin/search")
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        admin.sign_up("admin@example.org")  # the first account is the admin
        user.sign_up("reader@example.org")
        refused = user.http.get("/admin/search")
        assert refused.status_code == 403 and "for admins" in refused.text
        assert "/admin/search" not in user.http.get("/").text  # no link for non-admins

        deadline = time.monotonic() + 60
        while True:  # the worker reports a rate once it has taken a step
            page = admin.http.get("/admin/search")
            assert page.status_code == 200
            row = re.search(r'<tr data-index="transformer">(.*?)</tr>', page.text, re.S)
            assert row, page.text[-3000:]
            if "papers/s" in row.group(1) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        cells = row.group(1)
        assert "onnx:minilm" in cells and "papers/s" in cells and "left" in cells
        done, total = map(int, re.search(r"(\d+) of (\d+)", cells).groups())  # type: ignore[union-attr]
        assert total == 103 and 0 < done <= total
        assert 'data-index="keyword"><td>Keyword</td><td>103</td><td>0</td>' in page.text
        assert '<a href="/admin/search">' in admin.http.get("/").text
    finally:
        for v in (anonymous, admin, user):
            v.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_background_indexer_yields_the_cpu_to_requests(tmp_path: Path) -> None:
    settings, store = make(tmp_path, 4, batch=4)
    others = set(threading.enumerate())  # other tests' servers may run indexers too
    service = SearchService(store, settings, background=True, poll_seconds=0.2)
    try:
        new = set(threading.enumerate()) - others
        [worker] = [t for t in new if t.name == "paperfeed-indexer"]
        assert worker.native_id is not None
        deadline = time.monotonic() + 10
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        while os.getpriority(os.PRIO_PROCESS, worker.native_id) == mine:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, worker.native_id) == min(19, mine + 10)
        assert mine == os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # only it
    finally:
        service.close()
        store.close()


def test_an_index_built_with_the_transformer_alone_keeps_its_vectors(tmp_path: Path) -> None:
    """Upgrading in place: an index whose only vectors were ONNX's (PAPERFEED_EMBEDDER=onnx
    before progressive indexing) gets static vectors, and its ONNX vectors become the
    transformer's without embedding them again."""
    settings, store = make(tmp_path, 12, batch=12)
    service = SearchService(store, settings, background=False)
    service.sync_transformer()
    ts = service.indexer.tstore
    assert ts is not None
    before = {r: ts.vector(r) for r in range(12)}
    model = ts.state.model
    service.close()
    # the layout of such an index: the ONNX vectors at the top of index/, named in state.json
    index = settings.index_dir
    for name in ("vectors.f16", "ann.usearch"):
        os.replace(index / "transformer" / name, index / name)
    shutil.rmtree(index / "transformer")
    state = json.loads((index / "state.json").read_text())
    state.update(
        embedder=model,
        dim=384,
        vector_rows=12,
        vectors_crc=file_crc(index / "vectors.f16", 12 * 2 * 384),
        ann_size=(index / "ann.usearch").stat().st_size,
        ann_crc=file_crc(index / "ann.usearch"),
    )
    (index / "state.json").write_text(json.dumps(state))

    service = SearchService(store, settings, background=False)  # start-up repair
    try:
        status = service.status()
        assert status.embedder.startswith("static:") and status.vectors == 12
        assert status.transformer is not None and status.transformer.done == 12
        ts = service.indexer.tstore
        assert ts is not None and len(ts.vectors.ann) == 12
        for row, vec in before.items():
            assert np.array_equal(ts.vector(row), vec)
        assert service.sync_transformer() == 0  # nothing left to embed
    finally:
        service.close()
        store.close()


# Two CLI commands in one interpreter with onnxruntime made unimportable, as on a platform
# or an install where it is missing: `search` (its output, then a separator line), then `index`.
WITHOUT_ONNX = """
import sys
sys.modules["onnxruntime"] = None
from typer.testing import CliRunner
from paperfeed.cli import app
for args in (["search", "diffusion models", "-n", "3"], ["index"]):
    result = CliRunner().invoke(app, args)
    print(result.exit_code, result.stdout, result.stderr, "-----", sep="\\n")
"""


def test_a_transformer_that_is_not_installed_leaves_static_search_working(tmp_path: Path) -> None:
    settings, store = make(tmp_path, 6, batch=6)
    store.close()
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_ONNX],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    search, index, _ = run.stdout.split("-----\n")
    code, *lines = search.strip().splitlines()
    assert code == "0" and "Traceback" not in search + run.stderr
    assert "needs onnxruntime (a dependency of" in search + run.stderr  # said once, in the log
    hits = [line for line in lines if re.match(r"\s*\d{4}\.\d{4,5}\s+\d{4}-\d\d-\d\d", line)]
    assert len(hits) == 3  # answered with the static vectors
    assert index.startswith("0\n") and "transformer             off" in index
