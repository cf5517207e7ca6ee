"""`paperfeed sources` and `paperfeed harvest` against a local arXiv/HF stand-in serving real
responses (`harvest_upstream.py`): a full harvest, a second run that finds nothing new, a
`kill -9` mid-harvest and a rerun, an expired resumption token, error pages and garbage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from harvest_upstream import Upstream, oai_records, record_categories, record_id

from paperfeed.errors import PaperfeedError
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings, load_settings
from paperfeed.store import open_store
from paperfeed.web.app import create_app

FOLLOWED = ("cs.LG", "cs.IT", "cs.DS", "cs.NI", "cs.CV")


def expected_oai_ids(categories: tuple[str, ...] = FOLLOWED) -> set[str]:
    return {record_id(r) for r in oai_records() if record_categories(r) & set(categories)}


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstream]:
    server = Upstream(page_size=16)
    monkeypatch.setenv("PAPERFEED_ARXIV_URL", server.url)
    monkeypatch.setenv("PAPERFEED_HF_URL", server.url)
    monkeypatch.setenv("PAPERFEED_FETCH_INTERVAL", "0")
    monkeypatch.setenv("PAPERFEED_FETCH_RETRIES", "0")
    try:
        yield server
    finally:
        server.close()


_DATABASE_URL: dict[Path, str] = {}  # data dir -> the PostgreSQL store a test runs on


def stored(data_dir: Path):  # noqa: ANN201
    return open_store(load_settings(data_dir=data_dir, database_url=_DATABASE_URL.get(data_dir)))


@pytest.fixture
def on_backend(backend: str, database_url: str | None, data_dir: Path) -> Iterator[list[str]]:
    """Run the test on each store backend: the CLI options of its store (for subprocesses)."""
    if database_url:
        _DATABASE_URL[data_dir] = database_url
    try:
        yield ["--database-url", database_url] if database_url else []
    finally:
        _DATABASE_URL.pop(data_dir, None)


def paper_ids(data_dir: Path) -> set[str]:
    store = stored(data_dir)
    try:
        ids, after = set(), None
        while True:
            page = store.list_papers(after_id=after, limit=500)
            if not page:
                return ids
            ids |= {i.paper.id for i in page}
            after = page[-1].paper.id
    finally:
        store.close()


def test_sources_add_list_remove(cli, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PAPERFEED_SOURCES", "arxiv:stat.ML")
    assert cli("sources", "add", "arxiv:cs.CL").output.strip() == "following arxiv:cs.CL"
    assert "already followed" in cli("sources", "add", "arxiv:cs.CL").output
    assert cli("sources", "add", "hf-daily").exit_code == 0
    listed = cli("sources", "list").output
    assert "arxiv:cs.CL  (added)" in listed and "arxiv:stat.ML  (settings)" in listed
    assert "hf-daily  (added)" in listed and "oai:cs: never harvested" in listed
    bad = cli("sources", "add", "arxiv:nonsense.XX")
    assert bad.exit_code == 2 and "not an arXiv category" in bad.stderr
    assert cli("sources", "add", "rss:foo").exit_code == 2
    assert cli("sources", "remove", "arxiv:cs.CL").exit_code == 0
    gone = cli("sources", "remove", "arxiv:cs.CL")
    assert gone.exit_code == 1 and "not a followed source" in gone.stderr
    assert "arxiv:cs.CL" not in cli("sources", "list").output
    for _ in range(2):  # in PAPERFEED_SOURCES (and added, then not): it stays followed
        kept = cli("sources", "remove", "arxiv:stat.ML")
        assert kept.exit_code == 1 and "still followed: PAPERFEED_SOURCES names it" in kept.stderr
        assert "arxiv:stat.ML  (settings)" in cli("sources", "list").output
        assert cli("sources", "add", "arxiv:stat.ML").exit_code == 0


def follow_all(cli) -> None:  # noqa: ANN001
    for category in FOLLOWED:
        assert cli("sources", "add", f"arxiv:{category}").exit_code == 0
    assert cli("sources", "add", "arxiv:stat.ML").exit_code == 0
    assert cli("sources", "add", "hf-daily").exit_code == 0


def test_harvest_then_a_second_run_finds_nothing_new(cli, data_dir, upstream, on_backend) -> None:  # noqa: ANN001
    follow_all(cli)
    first = cli("harvest", "--since", "2015-01-16", "--until", "2024-05-27")
    assert first.exit_code == 0, first.output
    out = first.stdout
    expected = expected_oai_ids()
    assert f"oai:cs: added {len(expected)}," in out
    assert "oai:stat: nothing new" in out  # the set has no records since then: no error
    assert "rss:cs.LG: nothing new" in out and "no announcements" in out  # a holiday feed
    assert "rss:stat.ML: added" in out and "hf-daily: added 13," in out
    assert "page 3" in first.stderr  # progress, page by page
    # 46 records, 16 per page: three pages through resumption tokens
    tokens = [r for r in upstream.requests if "resumptionToken" in r]
    assert len(tokens) == 2
    ids = paper_ids(data_dir)
    assert expected <= ids
    store = stored(data_dir)
    try:
        day = date(2024, 5, 27)
        hf = store.daily_list(start=day, end=day, limit=50)
        assert len(hf) == 13 and all(i.hf_upvotes == i.upvotes for i in hf)
        assert sum(i.upvotes for i in hf) > 0 and all(i.local_upvotes == 0 for i in hf)
        rss_paper = store.get_paper("2403.15527")
        assert rss_paper.paper.listing_date.isoformat() == "2024-03-26"
        assert store.get_checkpoint("oai:cs").state == {"from": "2015-01-16", "token": None}
        # The keyword index followed the harvest (search/follow.py): complete when it returned.
        index = load_settings(data_dir=data_dir).index_dir
        state = json.loads((index / "state.json").read_text())
        assert state["keyword_seq"] == store.last_seq()
        assert KeywordIndex(index / "keyword").num_docs() == len(ids)
    finally:
        store.close()

    upstream.requests.clear()
    second = cli("harvest", "--until", "2024-05-27")
    assert second.exit_code == 0, second.output
    for line in second.stdout.splitlines()[:-1]:
        assert ": nothing new" in line, line
    assert "added 0, updated 0" in second.stdout.splitlines()[-1]
    assert paper_ids(data_dir) == ids
    # The second run asked OAI from the checkpointed datestamp, not from the beginning.
    assert any("from=2015-01-16" in r for r in upstream.requests)


def test_dry_run_writes_nothing(cli, data_dir, upstream) -> None:  # noqa: ANN001
    follow_all(cli)
    result = cli("harvest", "--since", "2015-01-16", "--until", "2024-05-27", "--dry-run")
    assert result.exit_code == 0 and "nothing written" in result.stdout
    assert paper_ids(data_dir) == set()
    assert "never harvested" in cli("sources", "list").output


def test_bad_sources_are_reported_and_the_others_still_run(cli, data_dir, upstream) -> None:  # noqa: ANN001
    follow_all(cli)
    cli("sources", "add", "arxiv:cs.ZZ")  # a category whose RSS listing does not exist
    upstream.fail["/rss/cs.ZZ"] = (404, b"<html><body>Not Found</body></html>")
    upstream.fail["/rss/stat.ML"] = (500, b"<html><body>Internal Server Error</body></html>")
    upstream.fail["/api/daily_papers"] = (200, b"<html>this is not JSON at all")
    result = cli("harvest", "--since", "2015-01-16", "--until", "2024-05-27")
    assert result.exit_code == 1
    out = result.stdout
    assert "rss:cs.ZZ: FAILED" in out and "HTTP 404" in out
    assert "rss:stat.ML: FAILED" in out and "HTTP 500" in out
    assert "hf-daily: FAILED" in out and "FAILED feeds: 3" in out
    assert f"oai:cs: added {len(expected_oai_ids())}," in out  # the good feeds still ran
    assert expected_oai_ids() <= paper_ids(data_dir)
    assert "LAST ERROR" in cli("sources", "list").output
    # Fixed upstream: the next run succeeds and the error is cleared.
    upstream.fail.clear()
    upstream.fail["/rss/cs.ZZ"] = (404, b"gone")
    again = cli("harvest", "--source", "hf-daily", "--since", "2024-05-27", "--until", "2024-05-27")
    assert again.exit_code == 0 and "hf-daily: added 13," in again.stdout


def test_kill_9_mid_harvest_then_rerun_loses_and_duplicates_nothing(
    cli,
    data_dir,
    upstream,
    on_backend,  # noqa: ANN001
) -> None:
    follow_all(cli)
    upstream.block_on = "%7C32%7C0"  # the third page's token ("cs|2015-01-16|32|0")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "--data-dir", str(data_dir), *on_backend,
         "harvest", "--source", "arxiv:cs.LG", "--since", "2015-01-16"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert upstream.blocked.wait(60), "the harvest never reached page 3"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    upstream.block_on = None
    upstream.release.set()
    store = stored(data_dir)
    try:
        checkpoint = store.get_checkpoint("oai:cs")
        assert checkpoint.state["token"] == "cs|2015-01-16|32|0"  # pages 1-2 committed
    finally:
        store.close()
    partial = paper_ids(data_dir)
    assert partial and partial < expected_oai_ids()

    upstream.requests.clear()
    rerun = cli("harvest", "--source", "arxiv:cs.LG")
    assert rerun.exit_code == 0, rerun.output
    oai = [r for r in upstream.requests if r.startswith("/oai2")]
    assert oai and "resumptionToken=cs%7C2015-01-16%7C32%7C0" in oai[0]  # resumed where it was
    assert paper_ids(data_dir) == expected_oai_ids()  # nothing lost, nothing twice
    added = int(rerun.stdout.split("oai:cs: added ")[1].split(",")[0])
    assert added == len(expected_oai_ids() - partial)


def test_expired_resumption_token_restarts_the_set_from_its_last_date(
    cli,
    data_dir,
    upstream,  # noqa: ANN001
) -> None:
    follow_all(cli)
    upstream.fail["/oai2?verb=ListRecords&resumptionToken=cs%7C2015-01-16%7C32%7C0"] = (
        503,
        b"busy",
    )
    failed = cli("harvest", "--source", "arxiv:cs.LG", "--since", "2015-01-16")
    assert failed.exit_code == 1 and "oai:cs: FAILED" in failed.stdout
    upstream.fail.clear()
    upstream.expire_tokens()  # the token saved in the checkpoint is no longer valid
    upstream.requests.clear()
    rerun = cli("harvest", "--source", "arxiv:cs.LG")
    assert rerun.exit_code == 0, rerun.output
    assert "restarted from 2015-01-16" in rerun.stdout
    assert any("from=2015-01-16" in r for r in upstream.requests)
    assert paper_ids(data_dir) == expected_oai_ids()


def harvest_time_passed() -> str:
    """A PAPERFEED_HARVEST_TIME five minutes ago, so that today's run is due (the test is
    skipped just after midnight, where it would be tomorrow's)."""
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%H:%M")
    if earlier > datetime.now(UTC).strftime("%H:%M"):
        pytest.skip("the scheduled time would be tomorrow")
    return earlier


def yesterday_due(upstream: Upstream, settings: Settings) -> str:
    """Yesterday's HF daily list (the 2026-07-09 fixture, 7 papers) as the one the next
    harvest fetches, its checkpoint at yesterday; the upstream request that fetches it."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    upstream.hf_days[yesterday.isoformat()] = upstream.hf_days["2026-07-09"]
    store = open_store(settings)
    try:
        store.save_checkpoint("hf-daily", {"day": yesterday.isoformat()})
    finally:
        store.close()
    return f"/api/daily_papers?date={yesterday.isoformat()}"


def scheduled_run(settings: Settings, timeout: float = 60) -> object | None:
    """The scheduled harvest's checkpoint once a run has written it, or None after `timeout`
    (polled; a store that cannot be opened yet, as while its database comes back, is retried)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            store = open_store(settings)
        except PaperfeedError:
            time.sleep(0.5)
            continue
        try:
            ran = store.get_checkpoint("schedule:harvest")
        finally:
            store.close()
        if ran is not None:
            return ran
        time.sleep(0.2)
    return None


def test_serve_harvests_on_its_schedule(tmp_path, upstream) -> None:  # noqa: ANN001
    """The app's lifespan starts the harvest thread; past today's time it catches up once."""
    earlier = harvest_time_passed()
    settings = load_settings(
        data_dir=tmp_path / "serve",
        harvest_time=earlier,
        sources="hf-daily",
        digest_time="",
    )
    wanted = yesterday_due(upstream, settings)
    with TestClient(create_app(settings)):
        ran = scheduled_run(settings)
    assert ran is not None, "the scheduled harvest did not run"
    assert wanted in upstream.requests
    store = open_store(settings)
    try:
        assert store.daily_count(start=date(2026, 7, 9), end=date(2026, 7, 9)) == 7
    finally:
        store.close()


def test_instances_on_one_store_run_the_scheduled_harvest_once(
    tmp_path, upstream, database_url
) -> None:  # noqa: ANN001
    """Two `serve` instances on one store (each with its own data directory, as in "N
    instances"), both past today's harvest time: one runs the day's harvest and auto-listing,
    the other leaves it to it instead of fetching (and auto-listing) a second time."""
    earlier = harvest_time_passed()
    url = database_url or f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    a, b = (
        load_settings(
            data_dir=tmp_path / name, database_url=url, harvest_time=earlier,
            sources="hf-daily", digest_time="",
        )
        for name in ("a", "b")
    )  # fmt: skip
    wanted = yesterday_due(upstream, a)
    upstream.block_on = wanted  # instance a's harvest waits there while b starts
    with TestClient(create_app(a)):
        assert upstream.blocked.wait(60), "instance a did not start its scheduled harvest"
        with TestClient(create_app(b)):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and upstream.requests.count(wanted) < 2:
                time.sleep(0.1)
            upstream.release.set()
            ran = scheduled_run(a)
            assert ran is not None, "the scheduled harvest did not run"
            time.sleep(0.5)  # b, had it gone on, would fetch again now
    assert upstream.requests.count(wanted) == 1, upstream.requests


def test_serve_schedule_survives_the_database_going_away_mid_harvest(
    tmp_path,
    upstream,
    private_pg,
) -> None:  # noqa: ANN001
    """PostgreSQL stopped while `serve`'s scheduled harvest runs: the schedule does not die
    with it (nor wait for tomorrow): once the database is back, the day's harvest runs."""
    earlier = harvest_time_passed()
    settings = load_settings(
        data_dir=tmp_path / "serve", database_url=private_pg.url, harvest_time=earlier,
        sources="hf-daily", digest_time="",
    )  # fmt: skip
    upstream.block_on = yesterday_due(upstream, settings)
    with TestClient(create_app(settings)):
        assert upstream.blocked.wait(60), "the scheduled harvest did not start"
        private_pg.stop()
        upstream.block_on = None
        upstream.release.set()  # the harvest goes on, to find its database gone
        time.sleep(2)
        private_pg.start()
        ran = scheduled_run(settings)
    assert ran is not None, "the scheduled harvest did not run once the database was back"
    store = open_store(settings)
    try:
        assert store.daily_count(start=date(2026, 7, 9), end=date(2026, 7, 9)) == 7
    finally:
        store.close()


def test_one_harvest_at_a_time(cli, data_dir, upstream) -> None:  # noqa: ANN001
    """A second harvest on the same data directory (another app worker, a cron job) is refused
    while one runs, with a clear message; the running one is not disturbed."""
    follow_all(cli)
    upstream.block_on = "verb=ListRecords"
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "--data-dir", str(data_dir), "harvest",
         "--source", "arxiv:cs.LG", "--since", "2015-01-16"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert upstream.blocked.wait(60)
        second = cli("harvest", "--source", "hf-daily")
        assert second.exit_code == 1 and "another harvest is running" in second.stderr
    finally:
        upstream.block_on = None
        upstream.release.set()
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert expected_oai_ids() <= paper_ids(data_dir)
