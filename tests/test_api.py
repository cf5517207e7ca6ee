"""The JSON API: every endpoint's shape and field names, limits, errors, HF client compatibility."""

from __future__ import annotations

import httpx
import pytest
from conftest import Visitor

HF_PAPER_FIELDS = {
    "id",
    "title",
    "summary",
    "authors",
    "publishedAt",
    "upvotes",
    "numComments",
    "githubRepo",
    "projectPage",
}
HF_DAILY_FIELDS = {"paper", "title", "summary", "publishedAt", "numComments", "submittedBy"}
LATEST_DAY = "2026-08-21"


def get(server, path: str, **params):  # noqa: ANN001, ANN201
    return httpx.get(server.url + path, params=params, timeout=30)


def check_paper(p: dict) -> None:
    assert p.keys() >= HF_PAPER_FIELDS
    assert isinstance(p["id"], str) and p["title"] and p["summary"]
    assert all(set(a) >= {"name"} for a in p["authors"])
    assert isinstance(p["upvotes"], int) and isinstance(p["numComments"], int)
    assert p["publishedAt"] is None or p["publishedAt"].endswith("Z")


def check_daily(item: dict) -> None:
    assert item.keys() >= HF_DAILY_FIELDS
    check_paper(item["paper"])
    assert item["title"] == item["paper"]["title"]


def bearer(server, email: str) -> dict[str, str]:  # noqa: ANN001
    v = Visitor(server)
    v.sign_up(email)
    r = httpx.post(
        server.url + "/api/session", json={"email": email, "password": "correct horse battery"}
    )
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_daily_papers_default_is_latest_day(web_server) -> None:  # noqa: ANN001
    items = get(web_server, "/api/daily_papers").json()
    assert items and all(i["date"] == LATEST_DAY for i in items)
    for item in items:
        check_daily(item)
    upvotes = [i["paper"]["upvotes"] for i in items]
    assert upvotes == sorted(upvotes, reverse=True)


def test_daily_papers_periods_and_pages(web_server) -> None:  # noqa: ANN001
    day = get(web_server, "/api/daily_papers", date="2026-08-20", limit=100).json()
    assert day and {i["date"] for i in day} == {"2026-08-20"}
    week = get(web_server, "/api/daily_papers", week="2026-W34", limit=100).json()
    assert {i["date"] for i in week} >= {"2026-08-19", "2026-08-20", "2026-08-21"}
    month = get(web_server, "/api/daily_papers", month="2026-08", limit=100).json()
    assert len(month) >= len(week)
    first = get(web_server, "/api/daily_papers", week="2026-W34", limit=5, p=0).json()
    second = get(web_server, "/api/daily_papers", week="2026-W34", limit=5, p=1).json()
    assert len(first) == len(second) == 5
    assert not {i["paper"]["id"] for i in first} & {i["paper"]["id"] for i in second}
    assert get(web_server, "/api/daily_papers", date="1999-01-01").json() == []


def test_daily_papers_sorts(web_server) -> None:  # noqa: ANN001
    trending = get(web_server, "/api/daily_papers", week="2026-W34", sort="trending").json()
    scores = [i["trendingScore"] for i in trending]
    assert scores == sorted(scores, reverse=True)
    assert "upvotes + 1" in trending[0]["trendingExplanation"]
    by_date = get(web_server, "/api/daily_papers", week="2026-W34", sort="publishedAt").json()
    published = [i["publishedAt"] for i in by_date]
    assert published == sorted(published, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-13-01"},
        {"date": "yesterday"},
        {"week": "2026-W99"},
        {"month": "2026-1"},
        {"date": "2026-08-20", "month": "2026-08"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"p": "-1"},
        {"sort": "random"},
    ],
)
def test_daily_papers_bad_input_is_400_json(web_server, params) -> None:  # noqa: ANN001
    r = get(web_server, "/api/daily_papers", **params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["error"]


def test_trending(web_server) -> None:  # noqa: ANN001
    items = get(web_server, "/api/trending", limit=10).json()
    assert 0 < len(items) <= 10
    for item in items:
        check_daily(item)
        assert item["trendingExplanation"].endswith(f"= {item['trendingScore']:.4f}")


def test_paper_info_and_404(web_server) -> None:  # noqa: ANN001
    p = get(web_server, "/api/papers/2608.17253").json()
    check_paper(p)
    assert p["id"] == "2608.17253" and p["githubRepo"].startswith("https://github.com/")
    assert {"submittedOnDailyAt", "submittedOnDailyBy", "categories"} <= p.keys()
    r = get(web_server, "/api/papers/0000.00000")
    assert r.status_code == 404 and r.json() == {
        "error": "no paper '0000.00000' in this catalogue",
        "status": 404,
    }
    assert get(web_server, "/api/nothing-here").json()["status"] == 404


def test_list_papers_cursor_pagination(web_server) -> None:  # noqa: ANN001
    seen, url = [], web_server.url + "/api/papers?limit=40"
    while url:
        r = httpx.get(url)
        assert r.status_code == 200
        page = r.json()
        for p in page:
            check_paper(p)
        seen += [p["id"] for p in page]
        link = r.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    assert len(seen) == len(set(seen)) >= 88 and seen == sorted(seen)
    assert get(web_server, "/api/papers", limit=1000).status_code == 400


def test_markdown_and_bibtex(web_server) -> None:  # noqa: ANN001
    md = get(web_server, "/papers/2608.17253.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# ") and "## Abstract" in md.text
    assert "https://arxiv.org/abs/2608.17253" in md.text
    bib = get(web_server, "/api/papers/2608.17253/bibtex")
    assert bib.status_code == 200 and bib.text.startswith("@misc{")
    assert "eprint = {2608.17253}" in bib.text and "archivePrefix = {arXiv}" in bib.text
    assert bib.text.count("{") == bib.text.count("}")
    assert get(web_server, "/papers/0000.00000.md").status_code == 404


def test_index_upvote_and_comments_with_a_token(web_server) -> None:  # noqa: ANN001
    url = web_server.url
    assert httpx.post(url + "/api/papers/index", json={"arxivId": "2608.17253"}).status_code == 401
    auth = bearer(web_server, "api-user@example.org")
    r = httpx.post(url + "/api/papers/index", json={"arxivId": "arXiv:0705.1367v2"}, headers=auth)
    assert r.status_code == 201, r.text
    check_daily(r.json())
    assert r.json()["submittedBy"]["user"] == "api-user"
    r = httpx.post(url + "/api/papers/index", json={"arxivId": "0705.1367"}, headers=auth)
    assert r.status_code == 409
    r = httpx.post(url + "/api/papers/index", json={"arxivId": "9999.99999"}, headers=auth)
    assert r.status_code == 404 and "not in the catalogue" in r.json()["error"]
    r = httpx.post(url + "/api/papers/index", json={"arxivId": "not an id"}, headers=auth)
    assert r.status_code == 400
    r = httpx.post(url + "/api/papers/index", json={}, headers=auth)
    assert r.status_code == 400 and "arxivId" in r.json()["error"]

    up = httpx.post(url + "/api/papers/2608.18565/upvote", headers=auth).json()
    assert up["upvoted"] is True and isinstance(up["upvotes"], int)
    down = httpx.delete(url + "/api/papers/2608.18565/upvote", headers=auth).json()
    assert down == {"upvoted": False, "upvotes": up["upvotes"] - 1}
    assert httpx.post(url + "/api/papers/0000.00000/upvote", headers=auth).status_code == 404

    c = httpx.post(url + "/api/papers/2608.18565/comments", json={"content": "Neat."}, headers=auth)
    assert c.status_code == 201
    comment = c.json()
    assert set(comment) == {"id", "paperId", "author", "content", "createdAt"}
    listed = httpx.get(url + "/api/papers/2608.18565/comments").json()
    assert comment in listed
    assert (
        httpx.post(
            url + "/api/papers/2608.18565/comments", json={"content": ""}, headers=auth
        ).status_code
        == 400
    )
    d = httpx.delete(url + f"/api/papers/2608.18565/comments/{comment['id']}", headers=auth)
    assert d.status_code == 204
    assert comment not in httpx.get(url + "/api/papers/2608.18565/comments").json()


def test_openapi_lists_every_endpoint(web_server) -> None:  # noqa: ANN001
    paths = get(web_server, "/openapi.json").json()["paths"]
    for path in (
        "/api/daily_papers",
        "/api/papers/search",
        "/api/papers",
        "/api/papers/index",
        "/api/papers/{paper_id}",
        "/api/papers/{paper_id}/upvote",
        "/api/papers/{paper_id}/comments",
        "/api/papers/{paper_id}/bibtex",
        "/api/trending",
    ):
        assert path in paths, path
    assert get(web_server, "/docs").status_code == 200


def test_huggingface_hub_client_works(web_server) -> None:  # noqa: ANN001
    """The real `huggingface_hub` client, pointed at this instance."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=web_server.url)
    papers = list(api.list_daily_papers(date="2026-08-20", limit=10))
    assert papers and all(p.id and p.title and p.authors for p in papers)
    assert all(p.published_at is not None for p in papers)
    weekly = list(api.list_daily_papers(week="2026-W34", sort="trending", p=0, limit=5))
    assert len(weekly) == 5
    info = api.paper_info("2608.17253")
    assert info.id == "2608.17253" and info.github_repo and info.summary
    assert info.authors[0].name


def test_hf_style_plain_http_params(web_server) -> None:  # noqa: ANN001
    """Plain HTTP with exactly the parameters `huggingface_hub` sends."""
    r = httpx.get(
        web_server.url + "/api/daily_papers",
        params={"p": 0, "limit": 50, "sort": "publishedAt", "month": "2026-08"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    for item in r.json():
        check_daily(item)


def test_search_endpoint(web_server) -> None:  # noqa: ANN001
    items = get(web_server, "/api/papers/search", q="upper bound", limit=5).json()
    assert 0 < len(items) <= 5
    for item in items:
        check_daily(item)
    assert any("bound" in i["summary"].lower() for i in items)
    # without a query (HfApi.list_papers()): the newest papers, as on Hugging Face
    newest = get(web_server, "/api/papers/search", limit=5).json()
    assert (
        len(newest) == 5 and get(web_server, "/api/papers/search", q="", limit=5).json() == newest
    )
    dates = [i["paper"]["publishedAt"] for i in newest]
    assert dates == sorted(dates, reverse=True)
    # a limit above the maximum is capped, as Hugging Face's search caps it (below)
    capped = get(web_server, "/api/papers/search", limit=500)
    assert capped.status_code == 200 and len(capped.json()) == 100
    assert get(web_server, "/api/papers/search", q="bound", limit=0).status_code == 400


def test_huggingface_hub_search(web_server) -> None:  # noqa: ANN001
    from huggingface_hub import HfApi

    found = list(HfApi(endpoint=web_server.url).list_papers(query="upper bound", limit=3))
    assert 0 < len(found) <= 3 and all(p.id and p.title and p.summary for p in found)
    # `limit` is "the maximum number of papers to return": above ours it is a cap, not a 400
    many = list(HfApi(endpoint=web_server.url).list_papers(query="bound", limit=500))
    assert many and len(many) <= 100
    newest = list(HfApi(endpoint=web_server.url).list_papers(limit=250))
    assert len(newest) == 100
    assert len(list(HfApi(endpoint=web_server.url).list_papers())) == 50  # sends no limit


def test_nul_bytes_are_a_clear_400_never_a_5xx(web_server) -> None:  # noqa: ANN001
    """PostgreSQL text cannot hold NUL: on every backend such input is refused, not a 500."""
    v = Visitor(web_server)
    r = v.post_form(
        "/signup", {"email": "nul@example.org", "password": "long enough pw", "name": "a\x00b"}
    )
    assert r.status_code < 500
    auth = bearer(web_server, "nul-tester@example.org")
    paper = "2608.17271"
    replies = [
        httpx.post(f"{web_server.url}/api/papers/{paper}/comments", headers=auth,
                   json={"content": "x\x00y"}),
        httpx.post(f"{web_server.url}/api/papers/2608.17%00271/upvote", headers=auth),
        httpx.get(f"{web_server.url}/api/papers/2608.17%00271"),
        httpx.get(f"{web_server.url}/api/papers?cursor=a%00b"),
        httpx.post(f"{web_server.url}/api/session",
                   json={"email": "a\x00@example.org", "password": "x"}),
    ]  # fmt: skip
    assert all(r.status_code < 500 for r in replies), [(r.status_code, r.text) for r in replies]


def test_next_page_link_is_under_the_public_base_url(tmp_path) -> None:  # noqa: ANN001
    """Behind a reverse proxy at https://papers.example.org/pf the app sees its own host
    and no prefix; the `Link` it hands out must still be one the client can follow."""
    from conftest import WEB_FIXTURE
    from fastapi.testclient import TestClient

    from paperfeed.ingest import ingest_sources
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store
    from paperfeed.web.app import create_app

    public = "https://papers.example.org/pf"
    settings = load_settings(data_dir=tmp_path, secret_key="k" * 32, base_url=public + "/")
    store = open_store(settings)
    try:
        ingest_sources(store, [str(WEB_FIXTURE)])
    finally:
        store.close()
    seen: list[str] = []
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as proxy:
        url: str | None = public + "/api/papers?limit=40"
        while url:
            assert url.startswith(public + "/api/papers?"), url
            r = proxy.get(url.removeprefix(public))  # what the proxy forwards
            assert r.status_code == 200
            seen += [p["id"] for p in r.json()]
            url = r.links.get("next", {}).get("url")
    assert len(seen) == len(set(seen)) == 90 and seen == sorted(seen)


def test_empty_parameters_are_no_filter(web_server) -> None:  # noqa: ANN001
    """`huggingface_hub` sends `submitter=""` when given one; like an empty `date=` it
    filters nothing (it matched no paper at all)."""
    whole_day = [i["paper"]["id"] for i in get(web_server, "/api/daily_papers").json()]
    assert whole_day
    for params in ({"submitter": ""}, {"date": ""}, {"submitter": "", "date": ""}):
        r = get(web_server, "/api/daily_papers", **params)
        assert r.status_code == 200 and [i["paper"]["id"] for i in r.json()] == whole_day


def test_writes_take_the_versioned_ids_reads_take(web_server) -> None:  # noqa: ANN001
    """`GET /api/papers/2608.18580v2` answers the paper; upvotes and comments on that same
    id answered 404 "no paper"."""
    url, auth = web_server.url, bearer(web_server, "versioned@example.org")
    for paper_id in ("2608.18580v2", "arXiv:2608.18580"):
        assert get(web_server, f"/api/papers/{paper_id}").json()["id"] == "2608.18580"
        up = httpx.post(f"{url}/api/papers/{paper_id}/upvote", headers=auth)
        assert up.status_code == 200 and up.json()["upvoted"] is True, up.text
        down = httpx.delete(f"{url}/api/papers/{paper_id}/upvote", headers=auth)
        assert down.status_code == 200 and down.json()["upvoted"] is False, down.text
    c = httpx.post(
        f"{url}/api/papers/2608.18580v1/comments", json={"content": "On v1."}, headers=auth
    )
    assert c.status_code == 201 and c.json()["paperId"] == "2608.18580", c.text
    listed = get(web_server, "/api/papers/2608.18580/comments").json()
    assert c.json() in listed
    gone = httpx.delete(f"{url}/api/papers/2608.18580v1/comments/{c.json()['id']}", headers=auth)
    assert gone.status_code == 204
    assert httpx.post(f"{url}/api/papers/2608.99999v1/upvote", headers=auth).status_code == 404


def test_a_401_says_how_to_authenticate(web_server) -> None:  # noqa: ANN001
    """RFC 9110 (15.5.2): a 401 carries WWW-Authenticate; it had none."""
    r = httpx.post(web_server.url + "/api/papers/2608.18580/upvote")
    assert r.status_code == 401 and r.json()["error"] == "sign in first"
    assert r.headers["www-authenticate"].startswith("Bearer")
    bad = {"Authorization": "Bearer not-a-token"}
    r = httpx.post(web_server.url + "/api/papers/2608.18580/upvote", headers=bad)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "params",
    [
        {"date": "20260820"},  # Python's date.fromisoformat takes these; HF does not
        {"date": "2026-W34-4"},
        {"date": "2026-08-2"},
        {"date": "2026-8-20"},
        {"date": "٢٠٢٦-٠٨-٢٠"},  # digits, but not ASCII ones
        {"week": "2026-W1"},
        {"week": "2026W34"},
        {"month": "2026-8"},
        {"week": "2026-W3\n"},
    ],
)
def test_periods_are_exactly_what_hf_takes(web_server, params: dict[str, str]) -> None:  # noqa: ANN001
    """date=YYYY-MM-DD, week=YYYY-Www, month=YYYY-MM, as huggingface_hub documents and sends
    them; anything else is a 400 naming the formats, never a guess at the day."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    r = get(web_server, "/api/daily_papers", **params)
    assert r.status_code == 400, r.text
    assert "use date=YYYY-MM-DD, week=YYYY-Www or month=YYYY-MM" in r.json()["error"]
    with pytest.raises(HfHubHTTPError) as raised:
        list(HfApi(endpoint=web_server.url).list_daily_papers(**params))
    assert raised.value.response.status_code == 400


def test_periods_in_hf_formats_still_answer(web_server) -> None:  # noqa: ANN001
    from huggingface_hub import HfApi

    api = HfApi(endpoint=web_server.url)
    assert list(api.list_daily_papers(date="2026-08-20"))
    assert list(api.list_daily_papers(week="2026-W34"))
    assert list(api.list_daily_papers(month="2026-08"))
