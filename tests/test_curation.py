"""The curation queue: ranked from the community's own history, explained, curators only,
one click onto today's list (API here; the browser path in test_e2e_curation.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, Visitor, _start_server

from paperfeed import accounts
from paperfeed.ingest import ingest_sources
from paperfeed.models import DailyEntry
from paperfeed.settings import load_settings
from paperfeed.store import open_store

CS_SAMPLE = FIXTURES / "arxiv_cs_daily_sample_3000.jsonl.gz"  # 3,000 real cs papers, Feb 2026
HISTORY_DAY = date(2026, 2, 3)
QUEUE_DAY = date(2026, 2, 4)
TOPIC = re.compile(r"\brobot", re.I)
PASSWORD = "a good long password"


def on_topic(paper) -> bool:  # noqa: ANN001
    return bool(TOPIC.search(paper.title) or TOPIC.search(paper.abstract))


@pytest.fixture(scope="module")
def curated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The web app over the cs sample, with a community that upvoted robotics papers."""
    data = tmp_path_factory.mktemp("curation") / "data"
    store = open_store(load_settings(data_dir=data, secret_key="test-secret-key-for-web-tests"))
    try:
        ingest_sources(store, [str(CS_SAMPLE)])
        history = [i for i in store.listed_papers(HISTORY_DAY, limit=5000) if on_topic(i.paper)][
            :25
        ]
        assert len(history) == 25
        store.upsert_daily(
            DailyEntry(paper_id=i.paper.id, day=HISTORY_DAY, upvotes=10 + n)
            for n, i in enumerate(history)
        )
        accounts.add_user(store, email="admin@example.org", password=PASSWORD, role="admin")
        accounts.add_user(store, email="cura@example.org", password=PASSWORD, role="curator",
                          name="cura")  # fmt: skip
        accounts.add_user(store, email="reader@example.org", password=PASSWORD, role="user")
    finally:
        store.close()
    yield from _start_server(data)


def token(server, email: str) -> dict[str, str]:  # noqa: ANN001
    r = httpx.post(f"{server.url}/api/session", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_queue_is_learnt_from_the_communitys_upvotes_and_explained(curated_server) -> None:  # noqa: ANN001
    url = f"{curated_server.url}/api/curation/queue"
    r = httpx.get(url, timeout=120, params={"date": QUEUE_DAY.isoformat(), "limit": 200},
                  headers=token(curated_server, "cura@example.org"))  # fmt: skip
    assert r.status_code == 200, r.text
    queue = r.json()
    assert len(queue) == 200 and [q["rank"] for q in queue] == list(range(1, 201))
    assert all(q["date"] == "2026-02-04" and q["reason"] for q in queue)
    scores = [q["score"] for q in queue]
    assert scores == sorted(scores, reverse=True)
    top = queue[:20]
    assert (
        "similar to \u201c" in top[0]["reason"] and "upvotes, listed 2026-02-03" in top[0]["reason"]
    )

    store = open_store(curated_server.settings)
    try:
        day = store.listed_papers(QUEUE_DAY, limit=5000)
    finally:
        store.close()
    base_rate = sum(on_topic(i.paper) for i in day) / len(day)
    top_rate = sum(
        bool(TOPIC.search(q["paper"]["title"] + " " + q["paper"]["summary"])) for q in top
    ) / len(top)
    assert base_rate < 0.2 and top_rate >= 3 * base_rate  # the community's interest shows


def test_queue_is_for_curators_and_checks_its_input(curated_server) -> None:  # noqa: ANN001
    url = f"{curated_server.url}/api/curation/queue"
    assert httpx.get(url).status_code == 401
    reader = token(curated_server, "reader@example.org")
    assert httpx.get(url, timeout=120, headers=reader).status_code == 403
    cura = token(curated_server, "cura@example.org")
    bad = httpx.get(url, timeout=120, params={"date": "2026-13-45"}, headers=cura)
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["error"]
    empty = httpx.get(url, timeout=120, params={"date": "2020-01-01"}, headers=cura)
    assert empty.status_code == 200 and empty.json() == []
    # Default day: the newest announce (Aug 21, 2026 here), whose papers are all listed already.
    assert httpx.get(url, timeout=120, params={"limit": 5}, headers=cura).json() == []
    page = Visitor(curated_server)
    assert page.http.get("/curation").status_code == 303  # sign in first


def test_listing_from_the_queue_puts_the_paper_on_todays_list(curated_server) -> None:  # noqa: ANN001
    cura = Visitor(curated_server)
    assert cura.sign_in("cura@example.org", PASSWORD).status_code == 303
    page = cura.http.get("/curation", params={"date": QUEUE_DAY.isoformat()})
    assert page.status_code == 200 and 'class="list-button"' in page.text
    paper_id = re.search(r'data-paper="([^"]+)"', page.text)[1]
    r = cura.post_form(
        "/curation/list", {"paper_id": paper_id, "date": QUEUE_DAY.isoformat()}, page="/curation"
    )
    assert r.status_code == 303 and f"listed={paper_id}" in r.headers["location"]
    today = datetime.now(UTC).date().isoformat()
    listed = httpx.get(f"{curated_server.url}/api/papers/{paper_id}").json()
    assert listed["submittedOnDailyBy"]["user"] == "cura"
    assert listed["submittedOnDailyAt"].startswith(today)
    again = cura.http.get("/curation", params={"date": QUEUE_DAY.isoformat()})
    assert f'data-paper="{paper_id}"' not in again.text  # listed papers leave the queue


def test_auto_list_is_off_by_default_and_lists_the_top_n(tmp_path: Path) -> None:
    from paperfeed import curation

    settings = load_settings(data_dir=tmp_path / "d")
    assert settings.curation_auto_list == 0
    store = open_store(settings)
    try:
        ingest_sources(store, [str(CS_SAMPLE)])
        assert curation.auto_list(store, settings, QUEUE_DAY) == []
        day, newest = curation.curation_queue(store, settings, limit=5)
        assert day == date(2026, 2, 9) and len(newest) == 5  # default: the newest announce
        assert all(q.item.paper.listing_date == day for q in newest)
        settings.curation_auto_list = 3
        _, queue = curation.curation_queue(store, settings, QUEUE_DAY, limit=3)
        listed = curation.auto_list(store, settings, QUEUE_DAY)
        assert listed == [q.item.paper.id for q in queue]
        for paper_id in listed:
            item = store.get_paper(paper_id)
            assert item.submitted_by == curation.AUTO_SUBMITTER
            assert item.daily_day == datetime.now(UTC).date()
    finally:
        store.close()


def test_a_bad_date_when_listing_changes_nothing(curated_server) -> None:  # noqa: ANN001
    """Every input is checked before the paper is listed: an invalid date answered 400 after
    it had already put the paper on today's list."""
    cura = Visitor(curated_server)
    assert cura.sign_in("cura@example.org", PASSWORD).status_code == 303
    page = cura.http.get("/curation", params={"date": QUEUE_DAY.isoformat()})
    paper_id = re.findall(r'data-paper="([^"]+)"', page.text)[-1]
    for bad in ("2026-13-45", "20260709"):  # the second: Python's fromisoformat takes it
        r = cura.post_form("/curation/list", {"paper_id": paper_id, "date": bad},
                           page="/curation")  # fmt: skip
        assert r.status_code == 400 and "YYYY-MM-DD" in r.text, bad
    assert cura.http.get("/curation", params={"date": "20260709"}).status_code == 400
    paper = httpx.get(f"{curated_server.url}/api/papers/{paper_id}").json()
    assert paper.get("submittedOnDailyBy") is None, paper
    again = cura.http.get("/curation", params={"date": QUEUE_DAY.isoformat()})
    assert f'data-paper="{paper_id}"' in again.text  # still in the queue


def test_listing_twice_lands_where_the_first_did(curated_server) -> None:  # noqa: ANN001
    """A double click on "List": the second request finds the paper listed and lands on the
    same page with the same notice (it was a 409 page); the JSON API still answers 409."""
    cura = Visitor(curated_server)
    assert cura.sign_in("cura@example.org", PASSWORD).status_code == 303
    page = cura.http.get("/curation", params={"date": QUEUE_DAY.isoformat()})
    paper_id = re.findall(r'data-paper="([^"]+)"', page.text)[1]
    form = {"paper_id": paper_id, "date": QUEUE_DAY.isoformat()}
    first = cura.post_form("/curation/list", form, page="/curation")
    second = cura.post_form("/curation/list", form, page="/curation")
    assert first.status_code == second.status_code == 303, second.text[:300]
    assert second.headers["location"] == first.headers["location"]
    landed = cura.http.get(second.headers["location"])
    assert f'Listed <a href="/papers/{paper_id}">{paper_id}</a> on today' in landed.text
    api = httpx.post(f"{curated_server.url}/api/papers/index", json={"arxivId": paper_id},
                     headers=token(curated_server, "cura@example.org"))  # fmt: skip
    assert api.status_code == 409
    # a paper listed on another day: the notice says so
    old = httpx.get(f"{curated_server.url}/api/daily_papers",
                    params={"date": HISTORY_DAY.isoformat(), "limit": 1}).json()  # fmt: skip
    old_id = old[0]["paper"]["id"]
    r = cura.post_form("/curation/list", {"paper_id": old_id}, page="/curation")
    assert r.status_code == 303
    landed = cura.http.get(r.headers["location"])
    assert f"{old_id}</a> is already on the daily list of Feb 3, 2026" in landed.text


def test_auto_list_takes_each_announcement_once(tmp_path: Path) -> None:
    """A scheduled harvest on a day without a new announcement (a weekend) found the same
    newest announce day, whose top N were listed already and so left the queue: it listed
    that day's papers ranked N+1..2N, and so on every such day. At most N papers of one
    announcement are auto-listed; nothing new announced, nothing auto-listed."""
    from paperfeed import curation

    settings = load_settings(data_dir=tmp_path / "d", curation_auto_list=3)
    store = open_store(settings)
    try:
        ingest_sources(store, [str(CS_SAMPLE)])
        newest = store.latest_listing_date()
        _, top = curation.curation_queue(store, settings, limit=3)
        friday = curation.auto_list(store, settings)  # after the harvest of an announcement
        assert friday == [q.item.paper.id for q in top]
        assert curation.auto_list(store, settings) == []  # Saturday: nothing new announced
        assert curation.auto_list(store, settings) == []  # Sunday
        auto = [i for i in store.listed_papers(newest) if i.submitted_by == curation.AUTO_SUBMITTER]
        assert sorted(i.paper.id for i in auto) == sorted(friday)
        settings.curation_auto_list = 4  # a larger N tops the announcement up, once
        assert len(curation.auto_list(store, settings)) == 1  # topped up to 4, once
        assert curation.auto_list(store, settings) == []
    finally:
        store.close()
