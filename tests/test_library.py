"""A reader's library through the HTTP API: collections, read marks, notes, follows, exports.

Bearer tokens from `POST /api/session` drive every call; a second reader checks that private
collections answer 404. Exports are parsed back with bibtexparser 2, rispy and csv.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import bibtexparser
import feedparser
import httpx
import pytest
import rispy
from conftest import FIXTURES, LiveServer, Visitor, _start_server, new_database_url

HOSTILE = "<script>alert('x')</script> & \"q\" <img src=x onerror=alert(1)>"
LIBRARY_PAPERS = FIXTURES / "library_papers.jsonl"  # real titles with &, %, $, LaTeX, accents
# Real papers whose titles/authors need escaping in BibTeX, with the values they must keep
TRICKY = {
    "2403.09611": "MM1: Methods, Analysis & Insights from Multimodal LLM Pre-training",
    "2502.11901": "Building A Proof-Oriented Programmer That Is 64% Better Than GPT-4o Under Data"
    " Scarsity",
    "2502.12115": "SWE-Lancer: Can Frontier LLMs Earn $1 Million from Real-World Freelance Software"
    " Engineering?",
    "2401.07595": "E3x: $\\mathrm{E}(3)$-Equivariant Deep Learning Made Easy",
}
ACCENTED = {"2401.01197": "Jean-François Godbout", "2401.00737": "Laurent Boué"}
DOI_PAPERS = {
    "1503.01162": "10.1007/s11191-014-9716-8",
    "physics/0507092": "10.1142/9789812701893_0020",
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, backend: str
) -> Iterator[LiveServer]:
    """The web fixture server plus the tricky-title papers, on each store backend."""
    from paperfeed.ingest import ingest_sources
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    data = tmp_path_factory.mktemp("library") / "data"
    url = new_database_url(request, backend)
    settings = load_settings(
        data_dir=data, secret_key="test-secret-key-for-web-tests", database_url=url
    )
    store = open_store(settings)
    try:
        ingest_sources(store, [str(LIBRARY_PAPERS)])
    finally:
        store.close()
    yield from _start_server(data, url)


class Reader:
    """A signed-up reader calling the API with a Bearer token."""

    def __init__(self, server: LiveServer, email: str) -> None:
        Visitor(server).sign_up(email, name=email.split("@")[0])
        r = httpx.post(
            server.url + "/api/session", json={"email": email, "password": "correct horse battery"}
        )
        assert r.status_code == 200, r.text
        self.http = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {r.json()['token']}"},
            timeout=30,
        )

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.http, name)


_n = [0]


def reader(server: LiveServer) -> Reader:
    _n[0] += 1
    return Reader(server, f"reader{_n[0]}@example.org")


def daily_ids(server: LiveServer, n: int) -> list[str]:
    items = httpx.get(server.url + "/api/daily_papers", params={"limit": n}).json()
    return [i["paper"]["id"] for i in items]


def test_collections_api_with_bearer_token(server: LiveServer) -> None:
    alice, bob = reader(server), reader(server)
    made = alice.post("/api/collections", json={"name": "To read", "public": False})
    assert made.status_code == 201, made.text
    c = made.json()
    assert c["name"] == "To read" and c["public"] is False and isinstance(c["id"], int)
    ids = daily_ids(server, 3)
    for pid in ids:
        r = alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": pid})
        assert r.status_code == 201 and r.json()["added"] is True
    again = alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": ids[0]})
    assert again.status_code == 201 and again.json()["added"] is False
    assert again.json()["numPapers"] == 3
    listed = alice.get("/api/collections").json()
    assert [x["name"] for x in listed] == ["To read"] and listed[0]["numPapers"] == 3
    got = alice.get(f"/api/collections/{c['id']}").json()
    assert {p["paper"]["id"] for p in got["papers"]} == set(ids)
    # unknown paper, missing fields, anonymous
    assert (
        alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": "9999.99999"}).status_code
        == 404
    )
    assert alice.post(f"/api/collections/{c['id']}/papers", json={}).status_code == 400
    assert httpx.post(server.url + "/api/collections", json={"name": "x"}).status_code == 401
    # remove
    assert alice.delete(f"/api/collections/{c['id']}/papers/{ids[0]}").status_code == 204
    assert alice.delete(f"/api/collections/{c['id']}/papers/{ids[0]}").status_code == 404
    assert alice.get(f"/api/collections/{c['id']}").json()["numPapers"] == 2
    # someone else: a private collection does not exist for them (404, never 403)
    for path in (
        f"/api/collections/{c['id']}",
        f"/api/collections/{c['id']}/export?format=bibtex",
        f"/collections/{c['id']}",
        f"/collections/{c['id']}/feed.xml",
    ):
        assert bob.get(path).status_code == 404, path
        assert httpx.get(server.url + path).status_code == 404, path
    assert (
        bob.post(f"/api/collections/{c['id']}/papers", json={"arxivId": ids[1]}).status_code == 404
    )
    assert bob.delete(f"/api/collections/{c['id']}").status_code == 404
    # made public: readable by all, still only the owner may change it
    assert alice.patch(f"/api/collections/{c['id']}", json={"public": True}).json()["public"]
    assert httpx.get(server.url + f"/api/collections/{c['id']}").status_code == 200
    assert (
        bob.post(f"/api/collections/{c['id']}/papers", json={"arxivId": ids[0]}).status_code == 403
    )
    assert bob.get("/api/collections").json() == []
    assert alice.delete(f"/api/collections/{c['id']}").status_code == 204
    assert alice.get(f"/api/collections/{c['id']}").status_code == 404


def test_collection_names_are_validated_and_escaped(server: LiveServer) -> None:
    alice, bob = reader(server), reader(server)
    assert alice.post("/api/collections", json={"name": "x" * 101}).status_code == 400
    assert alice.post("/api/collections", json={"name": "  \t\n "}).status_code == 400
    made = alice.post("/api/collections", json={"name": HOSTILE + "\n\x00tail", "public": True})
    assert made.status_code == 201, made.text
    c = made.json()
    assert c["name"] == HOSTILE + " tail"  # control characters become spaces, kept on one line
    dup = alice.post("/api/collections", json={"name": HOSTILE + " tail"})
    assert dup.status_code == 409
    alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": daily_ids(server, 1)[0]})
    page = bob.get(f"/collections/{c['id']}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(" in page.text
    library = alice.get("/library")
    assert library.status_code == 200 and "<script>alert" not in library.text
    feed = httpx.get(server.url + f"/collections/{c['id']}/feed.xml")
    assert feed.status_code == 200
    parsed = feedparser.parse(feed.content)
    assert not parsed.bozo and HOSTILE in parsed.feed.title
    assert len(parsed.entries) == 1
    export = httpx.get(server.url + f"/api/collections/{c['id']}/export", params={"format": "csv"})
    assert re.fullmatch(
        r'attachment; filename="[A-Za-z0-9._-]+\.csv"', export.headers["content-disposition"]
    )


def test_read_marks_and_private_notes(server: LiveServer) -> None:
    alice, bob = reader(server), reader(server)
    pid = daily_ids(server, 1)[0]
    assert alice.get(f"/api/papers/{pid}/library").json()["read"] is False
    assert alice.put(f"/api/papers/{pid}/read").json() == {"paperId": pid, "read": True}
    assert alice.get(f"/api/papers/{pid}/library").json()["read"] is True
    assert bob.get(f"/api/papers/{pid}/library").json()["read"] is False
    assert alice.delete(f"/api/papers/{pid}/read").json()["read"] is False
    assert alice.put("/api/papers/9999.99999/read").status_code == 404
    note = "Check Table 3 <b>& the % figures</b>"
    assert alice.put(f"/api/papers/{pid}/note", json={"content": note}).status_code == 200
    assert alice.get(f"/api/papers/{pid}/note").json()["content"] == note
    assert bob.get(f"/api/papers/{pid}/note").status_code == 404  # private to its writer
    page = alice.get(f"/papers/{pid}")
    assert "Check Table 3 &lt;b&gt;&amp; the % figures&lt;/b&gt;" in page.text
    assert "Check Table 3" not in bob.get(f"/papers/{pid}").text
    assert alice.put(f"/api/papers/{pid}/note", json={"content": "x" * 10_001}).status_code == 400
    assert alice.delete(f"/api/papers/{pid}/note").status_code == 204
    assert alice.get(f"/api/papers/{pid}/note").status_code == 404


def test_follows(server: LiveServer) -> None:
    alice = reader(server)
    assert alice.post("/api/follows", json={"category": "cs.CL"}).status_code == 201
    assert alice.post("/api/follows", json={"author": "Laurent Boué"}).status_code == 201
    assert alice.post("/api/follows", json={"category": "cs.CL"}).status_code == 201  # idempotent
    assert alice.post("/api/follows", json={"category": "<b>nope"}).status_code == 400
    assert alice.post("/api/follows", json={}).status_code == 400
    assert alice.post("/api/follows", json={"author": "a", "category": "cs.CL"}).status_code == 400
    follows = alice.get("/api/follows").json()
    assert [{k: v for k, v in f.items() if k != "createdAt"} for f in follows] == [
        {"author": "Laurent Boué"},
        {"category": "cs.CL"},
    ]
    r = alice.request("DELETE", "/api/follows", json={"category": "cs.CL"})
    assert r.status_code == 204
    r = alice.request("DELETE", "/api/follows", json={"category": "cs.CL"})
    assert r.status_code == 404
    assert [f.get("author") for f in alice.get("/api/follows").json()] == ["Laurent Boué"]


def _unescape_bibtex(value: str) -> str:
    """What a reference manager reads back: escapes undone, protective braces (outside
    $...$ math) dropped."""
    value = re.sub(r"\\([&%$#_{}])", lambda m: "\x00" + m.group(1), value)
    parts = value.split("$")
    for i in range(0, len(parts), 2):  # even parts are outside math
        parts[i] = parts[i].replace("{", "").replace("}", "")
    return "$".join(parts).replace("\x00", "")


def test_collection_exports_parse_back_intact(server: LiveServer) -> None:
    alice = reader(server)
    c = alice.post("/api/collections", json={"name": "Tricky & 100% real"}).json()
    wanted = [*TRICKY, *ACCENTED, *DOI_PAPERS]
    for pid in wanted:
        r = alice.post(f"/api/collections/{c['id']}/papers", json={"arxivId": pid})
        assert r.status_code == 201, (pid, r.text)
    papers = {pid: alice.get(f"/api/papers/{pid}").json() for pid in wanted}

    bib = alice.get(f"/api/collections/{c['id']}/export", params={"format": "bibtex"})
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    lib = bibtexparser.parse_string(bib.text)
    assert not lib.failed_blocks and len(lib.entries) == len(wanted)
    assert len({e.key for e in lib.entries}) == len(wanted)  # unique citation keys
    entries = {e.fields_dict["eprint"].value: e for e in lib.entries}
    assert set(entries) == set(wanted)
    for pid, e in entries.items():
        f = {k: v.value for k, v in e.fields_dict.items()}
        assert f["archivePrefix"] == "arXiv"
        assert _unescape_bibtex(f["title"]) == papers[pid]["title"], pid
        names = [_unescape_bibtex(a) for a in f["author"].split(" and ")]
        assert names == [a["name"] for a in papers[pid]["authors"]], pid
        if papers[pid]["primaryCategory"]:
            assert f["primaryClass"] == papers[pid]["primaryCategory"]
    for pid, doi in DOI_PAPERS.items():
        assert entries[pid].fields_dict["doi"].value == doi
    # & % and a lone $ must be escaped for LaTeX; math stays math
    assert r"Analysis \& Insights" in bib.text and r"64\% Better" in bib.text
    assert r"Earn \$1 Million" in bib.text and r"$\mathrm{E}(3)$" in bib.text

    ris = alice.get(f"/api/collections/{c['id']}/export", params={"format": "ris"})
    assert ris.status_code == 200
    records = {r["accession_number"].removeprefix("arXiv:"): r for r in rispy.loads(ris.text)}
    assert set(records) == set(wanted)
    for pid, rec in records.items():
        assert rec["title"] == papers[pid]["title"]
        assert rec["authors"] == [a["name"] for a in papers[pid]["authors"]]
        assert rec["urls"] == [f"https://arxiv.org/abs/{pid}"]
    for pid, doi in DOI_PAPERS.items():
        assert records[pid]["doi"] == doi

    table = alice.get(f"/api/collections/{c['id']}/export", params={"format": "csv"})
    rows = {r["arxiv_id"]: r for r in csv.DictReader(io.StringIO(table.text))}
    assert set(rows) == set(wanted)
    for pid, row in rows.items():
        assert row["title"] == papers[pid]["title"]
        assert row["authors"].split("; ") == [a["name"] for a in papers[pid]["authors"]]
        assert row["abstract"] == papers[pid]["summary"]
    for pid, name in ACCENTED.items():
        assert name in rows[pid]["authors"] and name in records[pid]["authors"]

    assert (
        alice.get(f"/api/collections/{c['id']}/export", params={"format": "doc"}).status_code == 400
    )


def test_search_and_daily_exports(server: LiveServer) -> None:
    day = httpx.get(server.url + "/api/daily_papers").json()
    r = httpx.get(server.url + "/api/export/daily", params={"format": "bibtex"})
    assert r.status_code == 200
    lib = bibtexparser.parse_string(r.text)
    assert not lib.failed_blocks
    assert [e.fields_dict["eprint"].value for e in lib.entries] == [i["paper"]["id"] for i in day]
    r = httpx.get(server.url + "/api/export/daily", params={"format": "ris", "date": "1999-01-01"})
    assert r.status_code == 200 and rispy.loads(r.text) == []
    found = httpx.get(server.url + "/api/papers/search", params={"q": "video", "limit": 10}).json()
    r = httpx.get(
        server.url + "/api/export/search", params={"q": "video", "format": "ris", "limit": 10}
    )
    assert r.status_code == 200
    assert [x["accession_number"] for x in rispy.loads(r.text)] == [
        f"arXiv:{i['paper']['id']}" for i in found
    ]
    r = httpx.get(server.url + "/api/export/search", params={"q": "", "format": "csv"})
    assert r.status_code == 400


def test_openapi_documents_the_library(server: LiveServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/collections"])
    assert "post" in paths["/api/collections/{collection_id}/papers"]
    assert "delete" in paths["/api/collections/{collection_id}/papers/{paper_id}"]
    assert "get" in paths["/api/collections/{collection_id}/export"]
    assert {"post", "delete"} <= set(paths["/api/follows"])


def test_follows_and_saves_are_bounded(fresh_store, fixtures_dir, monkeypatch) -> None:  # noqa: ANN001
    """Same-kind hole as issue 9's unbounded inputs: a reader cannot grow follows or saved
    papers without end (each row is cheap; millions of them are not)."""
    from paperfeed import library as lib
    from paperfeed.accounts import add_user
    from paperfeed.errors import BadRequest
    from paperfeed.ingest import ingest_sources

    ingest_sources(fresh_store, [str(fixtures_dir / "web_papers.jsonl")])
    me = add_user(
        fresh_store, email="many@example.org", password="correct horse battery", role="user"
    )
    for i in range(lib.MAX_FOLLOWS):
        lib.follow(fresh_store, me, "author", f"Author Number {i}")
    lib.follow(fresh_store, me, "author", "Author Number 7")  # one already followed: fine
    with pytest.raises(BadRequest, match=f"at most {lib.MAX_FOLLOWS}"):
        lib.follow(fresh_store, me, "category", "cs.CL")
    monkeypatch.setattr(lib, "MAX_SAVED", 3)  # the real bound is 50,000 papers
    c = lib.create_collection(fresh_store, me, "All")
    ids = [i.paper.id for i in fresh_store.list_papers(limit=4)]
    for pid in ids[:3]:
        assert lib.save_paper(fresh_store, me, c.id, pid) is True
    with pytest.raises(BadRequest, match="at most 3 papers"):
        lib.save_paper(fresh_store, me, c.id, ids[3])
