""" "For you" through the API and the Python API: cold start, reasons, "not interested",
follows and their feed, retraining only when signals change, more like this collection."""

from __future__ import annotations

import itertools
import re
import time
from contextlib import closing
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import LiveServer
from test_library import Reader, reader
from test_search_progressive import filled_ids, make, small_exact_scans

from paperfeed.search import SearchService
from paperfeed.search.dense import Calibration
from paperfeed.search.embed import OnnxEmbedder, StaticEmbedder, onnx_available, paper_text

needs_onnx = pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")


def ids(items: list[dict]) -> list[str]:
    return [i["paper"]["id"] for i in items]


def recommendations(alice: Reader, **params: object) -> list[dict]:
    """The reader's list once retraining (in the background) is done."""
    deadline = time.monotonic() + 120
    while True:
        r = alice.get("/api/recommendations", params=params)
        assert r.status_code == 200, r.text
        if r.headers.get("x-recommendations-updating") != "true":
            return r.json()
        assert time.monotonic() < deadline, "the model never finished retraining"
        time.sleep(0.1)


def text_words(paper: dict) -> set[str]:
    return {
        w.lower()
        for w in re.findall(r"[A-Za-z][A-Za-z0-9-]*", paper["title"] + " " + paper["summary"])
    }


def test_cold_start_is_followed_categories_then_trending(web_server: LiveServer) -> None:
    alice = Reader(web_server, "cold@example.org")
    trending = httpx.get(web_server.url + "/api/trending", params={"limit": 10}).json()
    recs = alice.get("/api/recommendations", params={"limit": 10}).json()
    assert ids(recs) == ids(trending)
    assert all(r["reason"]["text"].startswith("Trending") for r in recs)
    assert all(r["reason"]["closest"] == [] for r in recs)
    # follow an author of a paper far down the list: their papers come first
    last = httpx.get(web_server.url + "/api/daily_papers", params={"limit": 100}).json()[-1]
    author = last["paper"]["authors"][0]["name"]
    assert alice.post("/api/follows", json={"author": author}).status_code == 201
    recs = alice.get("/api/recommendations", params={"limit": 50}).json()
    assert recs[0]["reason"]["text"].startswith(f"New from {author}, whom you follow")
    assert author in [a["name"] for a in recs[0]["paper"]["authors"]]
    assert [r for r in recs if r["reason"]["text"].startswith("Trending")]
    feed = alice.get("/api/feed").json()
    assert feed and all(author in [a["name"] for a in i["paper"]["authors"]] for i in feed)
    # a followed category, over a window that reaches back to its (2024) listings
    assert alice.post("/api/follows", json={"category": "cs.LG"}).status_code == 201
    recs = alice.get("/api/recommendations", params={"limit": 50, "since": "2024-01-01"}).json()
    followed = [r for r in recs if r["reason"]["text"] == "New in cs.LG, which you follow"]
    assert len(followed) == 3 and all("cs.LG" in r["paper"]["categories"] for r in followed)
    feed = alice.get("/api/feed", params={"since": "2024-01-01"}).json()
    assert {"2401.09073", "2401.12819", "2402.01111"} <= set(ids(feed))


def test_recommendations_learn_from_signals_with_checkable_reasons(web_server: LiveServer) -> None:
    alice = reader(web_server)
    found = httpx.get(
        web_server.url + "/api/papers/search", params={"q": "video generation", "limit": 6}
    ).json()
    kept = ids(found)[:4]
    c = alice.post("/api/collections", json={"name": "video"}).json()
    alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": kept[0]})
    alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": kept[1]})
    assert alice.post(f"/api/papers/{kept[2]}/upvote").status_code == 200
    assert alice.put(f"/api/papers/{kept[3]}/read").status_code == 200
    recs = recommendations(alice, limit=10)
    assert len(recs) == 10
    assert not set(ids(recs)) & set(kept)  # what the reader kept is not recommended back
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)
    papers = {pid: alice.get(f"/api/papers/{pid}").json() for pid in kept}
    for r in recs:
        reason = r["reason"]
        assert reason["closest"] and set(reason["closest"]) <= set(kept)
        assert "which you kept" in reason["text"]
        # every shared term is really in this paper and in one of the closest kept papers
        mine = text_words(r["paper"])
        for term in reason["terms"]:
            for word in term.split():
                assert word in mine
                assert any(word in text_words(papers[k]) for k in reason["closest"])
    assert any(r["reason"]["terms"] for r in recs)
    # the top of the list is about video, like what was kept
    assert sum("video" in (r["title"] + r["summary"]).lower() for r in recs[:5]) >= 3


def test_not_interested_takes_effect_at_once(web_server: LiveServer) -> None:
    alice = reader(web_server)
    found = httpx.get(
        web_server.url + "/api/papers/search", params={"q": "reinforcement learning", "limit": 3}
    ).json()
    for pid in ids(found):
        alice.post(f"/api/papers/{pid}/upvote")
    before = recommendations(alice, limit=20)
    top = before[0]["paper"]["id"]
    r = alice.post(f"/api/recommendations/{top}/dismiss")
    assert r.status_code == 200 and r.json()["dismissed"] is True
    after = alice.get("/api/recommendations", params={"limit": 20}).json()
    assert top not in ids(after)
    assert alice.post("/api/recommendations/9999.99999/dismiss").status_code == 404


def test_recommendation_input_errors(web_server: LiveServer) -> None:
    alice = reader(web_server)
    assert httpx.get(web_server.url + "/api/recommendations").status_code == 401
    assert alice.get("/api/recommendations", params={"limit": 0}).status_code == 400
    assert alice.get("/api/recommendations", params={"limit": 101}).status_code == 400
    assert alice.get("/api/recommendations", params={"since": "yesterday"}).status_code == 400
    ok = alice.get("/api/recommendations", params={"since": "2026-08-20", "limit": 5})
    assert ok.status_code == 200
    assert all(i["date"] >= "2026-08-20" for i in ok.json())


def test_more_like_this_collection(web_server: LiveServer) -> None:
    alice = reader(web_server)
    found = ids(
        httpx.get(web_server.url + "/api/papers/search", params={"q": "robot", "limit": 3}).json()
    )
    c = alice.post("/api/collections", json={"name": "robots", "public": True}).json()
    for pid in found:
        alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": pid})
    similar = httpx.get(web_server.url + f"/api/collections/{c['id']}/similar").json()
    assert similar and not set(ids(similar)) & set(found)
    page = httpx.get(web_server.url + f"/collections/{c['id']}")
    assert "More like this collection" in page.text


def test_more_like_this_collection_leaves_out_every_saved_paper(
    web_server: LiveServer,
    monkeypatch,  # noqa: ANN001
) -> None:
    """The centroid is of the newest saves only; the papers left out are all of them."""
    from paperfeed.recommend import service

    monkeypatch.setattr(service, "MORE_LIKE_FROM", 3)
    alice = reader(web_server)
    found = ids(
        httpx.get(
            web_server.url + "/api/papers/search", params={"q": "language model", "limit": 25}
        ).json()
    )
    assert len(found) >= 15
    c = alice.post("/api/collections", json={"name": "many", "public": True}).json()
    for pid in found:
        alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": pid})
    similar = alice.get(f"/api/collections/{c['id']}/similar", params={"limit": 10}).json()
    assert len(similar) == 10 and not set(ids(similar)) & set(found)
    page = alice.get(f"/collections/{c['id']}")
    shown = page.text.split('id="more-like-this"')[1]
    assert not [pid for pid in found if f"/papers/{pid}" in shown]


def test_model_is_retrained_only_when_signals_change(fresh_store, fixtures_dir) -> None:  # noqa: ANN001
    from paperfeed.accounts import add_user
    from paperfeed.ingest import ingest_sources
    from paperfeed.recommend import Recommender

    ingest_sources(fresh_store, [str(fixtures_dir / "web_papers.jsonl")])
    user = add_user(
        fresh_store, email="m@example.org", password="correct horse battery", role="user"
    )
    papers = fresh_store.recent_daily(since=fresh_store.latest_daily_day(), limit=5)
    fresh_store.add_vote(user_id=user.id, paper_id=papers[0].paper.id)
    rec = Recommender(fresh_store)
    first = rec.recommend(user, limit=10)
    again = rec.recommend(user, limit=10)
    assert rec.trainings == 1 and [r.item.paper.id for r in again] == [
        r.item.paper.id for r in first
    ]
    fresh_store.dismiss(user_id=user.id, paper_id=first[0].item.paper.id)
    third = rec.recommend(user, limit=10)
    assert rec.trainings == 2 and first[0].item.paper.id not in [r.item.paper.id for r in third]


def test_digest_has_for_you_and_followed_sections(tmp_path, smtp_sink) -> None:  # noqa: ANN001
    from datetime import UTC, datetime

    from conftest import FIXTURES

    from paperfeed.accounts import add_user
    from paperfeed.digest.send import send_digests
    from paperfeed.digest.subscriptions import add_subscriber_confirmed
    from paperfeed.ingest import ingest_sources
    from paperfeed.settings import load_settings
    from paperfeed.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "d" / "paperfeed.sqlite3")
    try:
        ingest_sources(store, [str(FIXTURES / "web_papers.jsonl")])
        settings = load_settings(
            data_dir=tmp_path / "d", secret_key="digest-test-secret", smtp_url=smtp_sink.url
        )
        reader = add_user(
            store, email="reader@example.org", password="correct horse battery", role="user"
        )
        day = store.latest_daily_day()
        listed = store.daily_list(start=day, end=day, limit=100)
        for item in listed[-3:]:  # kept: the least upvoted of the last day
            store.add_vote(user_id=reader.id, paper_id=item.paper.id)
        followed_author = listed[5].paper.authors[0]
        store.add_follow(user_id=reader.id, kind="author", value=followed_author)
        add_subscriber_confirmed(store, email="reader@example.org", confirmed=True)
        add_subscriber_confirmed(store, email="stranger@example.org", confirmed=True)
        report = send_digests(
            settings, store, now=datetime(2026, 11, 27, 7, 0, tzinfo=UTC), progress=False
        )
        assert report.sent == 2, report.summary()
    finally:
        store.close()
    text = {
        m.recipient: m.message.get_body(preferencelist=("plain",)).get_content()
        for m in smtp_sink.received
    }
    assert "For you" in text["reader@example.org"]
    assert "New from authors and categories you follow" in text["reader@example.org"]
    assert "Trending" in text["reader@example.org"]  # the trending section stays
    assert "For you" not in text["stranger@example.org"]
    for item in listed[-3:]:  # what the reader kept is not sent back to them as "for you"
        section = text["reader@example.org"].split("For you", 1)[1].split("New from", 1)[0]
        assert item.paper.title not in section


def test_web_never_waits_for_retraining(fresh_store, fixtures_dir) -> None:  # noqa: ANN001
    """Issue 12: after a signal change the list is retrained in the background; meanwhile
    the previous list (or the cold-start list) is served, marked as updating, without the
    papers just dismissed or kept."""
    import threading

    from paperfeed.accounts import add_user
    from paperfeed.ingest import ingest_sources
    from paperfeed.recommend import Recommender

    ingest_sources(fresh_store, [str(fixtures_dir / "web_papers.jsonl")])
    user = add_user(
        fresh_store, email="bg@example.org", password="correct horse battery", role="user"
    )
    rec = Recommender(fresh_store)
    try:
        cold, updating = rec.recommend_now(user, limit=10)  # nothing kept: at once, not stale
        assert not updating and all(r.reason.text.startswith("Trending") for r in cold)
        fresh_store.add_vote(user_id=user.id, paper_id=cold[0].item.paper.id)
        gate = threading.Event()
        rec._pool.submit(gate.wait)  # occupy the one trainer: training can only queue
        try:
            t = time.perf_counter()
            stale, updating = rec.recommend_now(user, limit=10)
            assert time.perf_counter() - t < 2.0 and updating and rec.trainings == 1
            assert cold[0].item.paper.id not in ids_of(stale)  # kept now: not recommended
            assert ids_of(stale)[:9] == ids_of(cold)[1:]  # the list it had, less that one
            # "not interested" while the model is being retrained still takes effect at once
            fresh_store.dismiss(user_id=user.id, paper_id=stale[0].item.paper.id)
            again, updating = rec.recommend_now(user, limit=10)
            assert updating and stale[0].item.paper.id not in ids_of(again)
        finally:
            gate.set()
        assert rec.wait_for_training()
        fresh, updating = rec.recommend_now(user, limit=10)
        assert not updating and rec.trainings == 2  # one training for the newest signals
        assert all("which you kept" in r.reason.text for r in fresh)
        assert stale[0].item.paper.id not in ids_of(fresh)
    finally:
        rec.close()


def ids_of(ranked: list) -> list[str]:  # noqa: ANN001
    return [r.item.paper.id for r in ranked]


def test_for_you_page_says_it_is_updating(web_server: LiveServer) -> None:
    alice = reader(web_server)
    page = alice.get("/for-you")
    assert page.status_code == 200 and 'id="updating"' not in page.text
    found = httpx.get(
        web_server.url + "/api/papers/search", params={"q": "video generation", "limit": 2}
    ).json()
    assert alice.post(f"/api/papers/{ids(found)[0]}/upvote").status_code == 200
    page = alice.get("/for-you")
    assert page.status_code == 200
    assert page.headers.get("x-recommendations-updating") == "true"
    assert 'id="updating"' in page.text and "Updating" in page.text
    recommendations(alice, limit=5)  # wait until retrained
    page = alice.get("/for-you")
    assert 'id="updating"' not in page.text and "which you kept" in page.text


def test_more_like_collection_is_kept_until_the_collection_changes(
    fresh_store,  # noqa: ANN001
    fixtures_dir,  # noqa: ANN001
    tmp_path,  # noqa: ANN001
) -> None:
    from paperfeed import library as lib
    from paperfeed.accounts import add_user
    from paperfeed.ingest import ingest_sources
    from paperfeed.recommend import Recommender

    ingest_sources(fresh_store, [str(fixtures_dir / "web_papers.jsonl")])
    me = add_user(
        fresh_store, email="sim@example.org", password="correct horse battery", role="user"
    )
    c = lib.create_collection(fresh_store, me, "robots")
    for item in fresh_store.list_papers(limit=3):
        lib.save_paper(fresh_store, me, c.id, item.paper.id)
    c = fresh_store.get_collection(c.id)
    rec = Recommender(fresh_store)
    try:
        first = rec.more_like_collection(c, limit=5)
        assert first and rec.more_like_collection(c, limit=5) is first  # kept, not recomputed
        lib.save_paper(fresh_store, me, c.id, first[0].paper.id)
        changed = fresh_store.get_collection(c.id)
        assert first[0].paper.id not in [i.paper.id for i in rec.more_like_collection(changed)]
    finally:
        rec.close()


def holding(store, paper_ids: list[str]):  # noqa: ANN001, ANN201
    """A reader's collection holding these papers (saved in this order)."""
    from paperfeed import library as lib
    from paperfeed.accounts import add_user

    me = add_user(store, email="near@example.org", password="correct horse battery", role="user")
    c = lib.create_collection(store, me, "near")
    for pid in paper_ids:
        lib.save_paper(store, me, c.id, pid)
    return store.get_collection(c.id)


def as_ranked(shown: list[str], score: dict[str, float], limit: int) -> None:
    """`shown` are the `limit` best papers by `score` in its order, give or take near ties
    (0.02, as test_search_progressive allows: a stored vector's cosines differ from a fresh
    one's by up to about 0.01)."""
    best = sorted(score, key=lambda i: -score[i])
    assert len(shown) == limit
    assert all(score[i] >= score[best[limit - 1]] - 0.02 for i in shown), (shown, best)
    assert all(score[a] >= score[b] - 0.02 for a, b in itertools.pairwise(shown)), shown


@needs_onnx
def test_more_like_this_collection_is_by_the_transformer_without_the_static_ann(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every paper's transformer vector, "more like this collection" is the nearest
    papers by transformer cosine to the mean of its papers' transformer vectors (the model
    "similar papers" uses), and the static model's ANN index (~630 MiB at 1M papers) is
    neither loaded nor searched."""
    from paperfeed.recommend import Recommender

    settings, store = make(tmp_path, 24, batch=8)
    small_exact_scans(monkeypatch, 4)  # 24 papers count as many: the static ANN, not a scan
    with closing(SearchService(store, settings, background=False)) as filling:
        assert filling.sync_transformer() == 24
    service = SearchService(store, settings, background=False)  # as a fresh web process
    rec = Recommender(store, service)
    try:
        members = service.search("video generation with diffusion models", limit=3).ids
        shown = [i.paper.id for i in rec.more_like_collection(holding(store, members), limit=5)]
        assert not service.indexer.vectors.ann_loaded

        papers = {p.paper.id: p.paper for p in store.list_papers(limit=100)}
        onnx = OnnxEmbedder()
        ids = sorted(papers)
        vecs = dict(
            zip(
                ids,
                onnx.embed([paper_text(papers[i].title, papers[i].abstract) for i in ids]),
                strict=True,
            )
        )
        centroid = np.mean([vecs[m] for m in members], axis=0)
        centroid /= np.linalg.norm(centroid)
        as_ranked(shown, {i: float(vecs[i] @ centroid) for i in ids if i not in members}, 5)
    finally:
        rec.close()
        service.close()
        store.close()


@needs_onnx
def test_more_like_this_collection_while_the_transformer_fills_in(tmp_path: Path) -> None:
    """Half the papers have their transformer vector: papers with one are ranked by their
    transformer cosine to the members' transformer centroid, papers still waiting by their
    static cosine to the members' static centroid, put on the transformer's scale (as search
    and "similar papers" do, `paperfeed.search.dense`)."""
    from paperfeed.recommend import Recommender

    settings, store = make(tmp_path, 24, batch=4)
    service = SearchService(store, settings, background=False)
    rec = Recommender(store, service)
    try:
        assert service.sync_transformer(max_papers=12) == 12
        filled = filled_ids(service)
        papers = {p.paper.id: p.paper for p in store.list_papers(limit=100)}
        ids = sorted(papers)
        members = [*sorted(filled)[:2], *sorted(set(ids) - filled)[:2]]
        # limit 10: every paper is a candidate, so the line is fitted on all 12 filled ones
        shown = [i.paper.id for i in rec.more_like_collection(holding(store, members), limit=10)]

        texts = [paper_text(papers[i].title, papers[i].abstract) for i in ids]
        t_vec = dict(zip(ids, OnnxEmbedder().embed(texts), strict=True))
        s_vec = dict(zip(ids, StaticEmbedder().embed(texts), strict=True))
        qt = np.mean([t_vec[m] for m in members if m in filled], axis=0)
        qs = np.mean([s_vec[m] for m in members], axis=0)
        qt, qs = qt / np.linalg.norm(qt), qs / np.linalg.norm(qs)
        line = Calibration.fit(
            [float(s_vec[i] @ qs) for i in sorted(filled)],
            [float(t_vec[i] @ qt) for i in sorted(filled)],
        )
        assert line is not None
        score = {
            i: float(t_vec[i] @ qt) if i in filled else line(float(s_vec[i] @ qs))
            for i in ids
            if i not in members
        }
        as_ranked(shown, score, 10)
        assert set(shown) & filled and set(shown) - filled  # both kinds are found
    finally:
        rec.close()
        service.close()
        store.close()
