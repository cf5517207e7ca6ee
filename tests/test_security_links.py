"""Issue 9.1: links from importers (`github_url`, `githubRepo`, `project_page`, `projectPage`)
become `href`s only when they are http(s) URLs: refused at ingest (field dropped, paper kept,
reported) and again at render time for rows stored before the check existed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from conftest import LiveServer, _start_server

from paperfeed.digest.tokens import Links
from paperfeed.models import DailyEntry, Paper
from paperfeed.store import open_store

DAY = "2026-08-21"  # the newest day of the web fixture
EVIL = [
    "javascript:alert(document.cookie)//github.com/x/y",
    "  JaVaScRiPt:alert(document.cookie)//github.com/x/y",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",  # scheme-relative: not an absolute http(s) URL
]
HREF = re.compile(r"""href\s*=\s*["']?\s*([^"'\s>]*)""", re.IGNORECASE)


def _paper(n: int, *, github: object, project: object) -> dict[str, object]:
    return {
        "arxiv_id": f"2609.{n:05d}",
        "title": f"Qwertyzap linkcheck paper number {n}",
        "abstract": "We study qwertyzap link safety in rendered pages.",
        "authors": ["Ada Lovelace"],
        "categories": ["cs.CR"],
        "published": "2026-08-20T00:00:00Z",
        "daily_date": DAY,
        "upvotes": 900 + n,
        "github_url": github,
        "project_page": project,
    }


def _write_inputs(tmp: Path) -> tuple[Path, Path]:
    jsonl = tmp / "evil.jsonl"
    rows = [_paper(i + 1, github=url, project=EVIL[-1 - i]) for i, url in enumerate(EVIL)]
    rows.append(
        _paper(50, github=" https://github.com/good/repo ", project="HTTPS://good.example/p")
    )
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    hf = tmp / "evil_hf.json"
    item = {
        "paper": {
            "id": "2609.00060",
            "title": "Qwertyzap HF item",
            "summary": "A qwertyzap abstract from an HF daily list.",
            "authors": [{"name": "Grace Hopper"}],
            "publishedAt": "2026-08-20T00:00:00.000Z",
            "submittedOnDailyAt": f"{DAY}T10:00:00.000Z",
            "upvotes": 990,
            "githubRepo": " javascript:alert(document.cookie)//github.com/x/y",
            "projectPage": "JAVASCRIPT:alert(1)",
        },
        "numComments": 0,
    }
    hf.write_text(json.dumps([item]))
    return jsonl, hf


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    from typer.testing import CliRunner

    from paperfeed.cli import app

    tmp = tmp_path_factory.mktemp("links")
    data = tmp / "data"
    data.mkdir()
    jsonl, hf = _write_inputs(tmp)
    result = CliRunner().invoke(app, ["--data-dir", str(data), "ingest", str(jsonl), str(hf)])
    output = result.stdout + result.stderr
    # A row written before the check existed (or by another tool): render time must hold.
    from paperfeed.settings import load_settings

    store = open_store(load_settings(data_dir=data))
    try:
        store.upsert_papers(
            [
                Paper(
                    id="2609.00070",
                    title="Qwertyzap legacy row",
                    abstract="Stored qwertyzap row with a script link.",
                    authors=["Old Importer"],
                    github_url="javascript:alert(document.domain)//github.com/a/b",
                    project_page=" javascript:alert(2)",
                )
            ]
        )
        store.upsert_daily(
            [DailyEntry(paper_id="2609.00070", day=date.fromisoformat(DAY), upvotes=999)]
        )
    finally:
        store.close()
    for server in _start_server(data):
        yield server, output + f"\nexit={result.exit_code}"


def test_ingest_drops_script_links_keeps_papers_and_reports(loaded) -> None:  # noqa: ANN001
    server, output = loaded
    assert "exit=0" in output, output
    assert output.count("github_url dropped") == len(EVIL) + 1, output  # + the HF item
    assert output.count("project_page dropped") == len(EVIL) + 1, output
    assert f"fields dropped {2 * (len(EVIL) + 1)}" in output
    assert "rejected 0" in output
    for n in [*range(1, len(EVIL) + 1), 60]:
        r = httpx.get(f"{server.url}/api/papers/2609.{n:05d}")
        assert r.status_code == 200, r.text  # the paper is kept
        assert r.json()["githubRepo"] is None and r.json()["projectPage"] is None
    good = httpx.get(f"{server.url}/api/papers/2609.00050").json()
    assert good["githubRepo"] == "https://github.com/good/repo"
    assert good["projectPage"] == "HTTPS://good.example/p"


def _assert_no_script_links(text: str, where: str) -> None:
    for href in HREF.findall(text):
        assert (
            href.lower().startswith(("http://", "https://", "/", "#", "?", "mailto:")) or not href
        ), f"{where}: unsafe href {href!r}"
    assert "javascript:" not in text.lower(), f"{where}: a javascript: URL is in the output"


@pytest.mark.parametrize(
    "path",
    [
        "/papers/2609.00070",
        "/papers/2609.00001",
        "/papers/2609.00060",
        f"/?date={DAY}",
        "/trending",
        "/search?q=qwertyzap",
        "/search?q=qwertyzap&sort=upvotes",
        "/papers/2609.00070.md",
        f"/feeds/daily.xml?date={DAY}",
        f"/feeds/daily.atom?date={DAY}",
        "/feeds/search.xml?q=qwertyzap",
        "/api/papers/2609.00070",
        f"/api/daily_papers?date={DAY}",
        "/api/papers/search?q=qwertyzap",
        "/api/trending",
    ],
)
def test_no_page_renders_a_script_link(loaded, path: str) -> None:  # noqa: ANN001
    server, _ = loaded
    r = httpx.get(server.url + path, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert "qwertyzap" in r.text.lower()  # the papers are there, only their bad links are not
    _assert_no_script_links(r.text, path)


def test_good_links_still_render(loaded) -> None:  # noqa: ANN001
    server, _ = loaded
    page = httpx.get(f"{server.url}/papers/2609.00050").text
    assert 'href="https://github.com/good/repo"' in page
    assert 'href="HTTPS://good.example/p"' in page


def test_digest_preview_and_email_have_no_script_links(loaded) -> None:  # noqa: ANN001
    server, _ = loaded
    from paperfeed.digest.send import preview_digest
    from paperfeed.digest.subscriptions import add_subscriber_confirmed

    store = open_store(server.settings)
    try:
        sub, _ = add_subscriber_confirmed(
            store, email="reader@example.org", searches=["qwertyzap"], confirmed=True
        )
        digest, rendered = preview_digest(server.settings, store, sub)
    finally:
        store.close()
    assert not digest.empty
    _assert_no_script_links(rendered.html, "digest html")
    assert "javascript:" not in rendered.text.lower()
    token = Links(server.settings).token("manage", sub.id, sub.email)
    for path in ("/digest/preview", "/digest/preview/email"):
        page = httpx.get(f"{server.url}{path}", params={"token": token})
        assert page.status_code == 200 and "qwertyzap" in page.text.lower(), path
        _assert_no_script_links(page.text, path)
