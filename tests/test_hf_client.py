"""The real `huggingface_hub` client against a running instance on 127.0.0.1 returns what it
returns against Hugging Face (issue 9, item 12).

The client runs in its own process with HF_HUB_DISABLE_TELEMETRY=1 and without
HF_HUB_OFFLINE: huggingface_hub refuses *every* request in offline mode, a custom endpoint
included (checked below), so a reader who exported HF_HUB_OFFLINE=1 for model loading has to
unset it for the client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from conftest import FIXTURES, LiveServer, Visitor, _start_server

HF_CURRENT = FIXTURES / "hf_daily_papers_2026-07-09.json"


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _start_server(tmp_path_factory.mktemp("hub") / "data", extra_sources=(HF_CURRENT,))


def run_client(server: LiveServer, code: str, **env: str) -> object:
    """Run `code` (with `api = HfApi(endpoint=...)` defined) in a fresh process; its JSON out."""
    script = "import json, sys\nfrom huggingface_hub import HfApi\n"
    script += f"api = HfApi(endpoint={server.url!r}, token=False)\n" + textwrap.dedent(code)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(server.data_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_daily_papers_as_on_hugging_face(hub_server: LiveServer) -> None:
    out = run_client(
        hub_server,
        """
        items = list(api.list_daily_papers(date="2026-07-09"))
        first = [p for p in items if p.id == "2607.07708"][0]
        print(json.dumps({
            "n": len(items),
            "published_at": first.published_at.isoformat(),
            "submitted_at": first.submitted_at.isoformat(),
            "username": first.submitted_by.username,
            "fullname": first.submitted_by.fullname,
            "avatar": first.submitted_by.avatar_url,
            "upvotes": first.upvotes,
            "comments": first.comments,
            "authors": len(first.authors),
        }))
        """,
    )
    assert out == {
        "n": 7,
        "published_at": "2026-07-08T00:00:00+00:00",  # the arXiv date, from `paper`
        "submitted_at": "2026-07-09T00:00:00+00:00",  # put on the daily list
        "username": "Uanu",
        "fullname": "Jianyu Wu",
        "avatar": "https://huggingface.co/avatars/9f39725cb42d9276899fd58a91468d6a.svg",
        "upvotes": 60,
        "comments": 1,
        "authors": 29,
    }


def test_submitter_filter(hub_server: LiveServer) -> None:
    visitor = Visitor(hub_server)
    try:
        visitor.sign_up("poster@example.org", name="poster")
        token = visitor.http.post(
            "/api/session",
            json={"email": "poster@example.org", "password": "correct horse battery"},
        ).json()["token"]
        listed = visitor.http.post(
            "/api/papers/index",
            json={"arxivId": "1501.05039v1"},  # unlisted fixture paper, versioned id
            headers={"Authorization": f"Bearer {token}"},
        )
        assert listed.status_code == 201, listed.text
    finally:
        visitor.close()
    out = run_client(
        hub_server,
        """
        def ids(**kw):
            return sorted(p.id for p in api.list_daily_papers(**kw))
        print(json.dumps({
            "uanu": ids(submitter="Uanu"),
            "uanu_day": ids(date="2026-07-09", submitter="uanu"),
        "taesiri": len(ids(submitter="taesiri")),
            "uanu_other_day": ids(date="2026-07-08", submitter="Uanu"),
            "poster": ids(submitter="poster"),
            "nobody": ids(submitter="nobody-at-all"),
            "day": len(ids(date="2026-07-09")),
        }))
        """,
    )
    with open(HF_CURRENT, encoding="utf-8") as f:
        by_uanu = sorted(
            i["paper"]["id"]
            for i in json.load(f)
            if i["paper"]["submittedOnDailyBy"]["user"] == "Uanu"
        )
    assert by_uanu and out["uanu"] == by_uanu and out["uanu_day"] == by_uanu
    assert out["uanu_other_day"] == [] and out["taesiri"] == 3
    assert out["poster"] == ["1501.05039"]
    assert out["nobody"] == []
    assert out["day"] == 7  # no filter: the whole day


def test_paper_info_list_papers_and_versioned_ids(hub_server: LiveServer) -> None:
    out = run_client(
        hub_server,
        """
        info = api.paper_info("2607.07708v2")
        newest = list(api.list_papers())
        print(json.dumps({
            "id": info.id,
            "title": info.title[:21],
            "submitted_at": info.submitted_at.isoformat(),
            "submitter": info.submitted_by.username,
            "newest": len(newest),
            "newest_dates": [p.published_at.isoformat() for p in newest if p.published_at],
            "found": [p.id for p in api.list_papers(query="structural reasoning proteins")][:3],
        }))
        """,
    )
    assert out["id"] == "2607.07708" and out["title"] == "Accurate, Interdiscip"
    assert out["submitted_at"] == "2026-07-09T00:00:00+00:00" and out["submitter"] == "Uanu"
    assert out["newest"] == 50
    assert out["newest_dates"] == sorted(out["newest_dates"], reverse=True)
    assert "2607.07708" in out["found"]


def test_versioned_ids_resolve_on_pages(hub_server: LiveServer) -> None:
    import httpx

    page = httpx.get(hub_server.url + "/papers/2607.07708v2")
    assert page.status_code == 200 and "Accurate, Interdisciplinary" in page.text
    assert httpx.get(hub_server.url + "/api/papers/2607.07708v9").json()["id"] == "2607.07708"
    assert httpx.get(hub_server.url + "/api/papers/2607.07708v2/bibtex").status_code == 200
    assert httpx.get(hub_server.url + "/api/papers/2607.99999v2").status_code == 404


def test_offline_mode_blocks_even_a_local_endpoint(hub_server: LiveServer) -> None:
    out = run_client(
        hub_server,
        """
        from huggingface_hub.errors import OfflineModeIsEnabled
        try:
            list(api.list_daily_papers())
            print(json.dumps("answered"))
        except OfflineModeIsEnabled:
            print(json.dumps("blocked"))
        """,
        HF_HUB_OFFLINE="1",
    )
    assert out == "blocked"


PROLIFIC = 5200  # one submitter's papers of every day, more than one query used to hold


@pytest.fixture(scope="module")
def prolific_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A submitter with years of papers, the old ones much upvoted, the new ones not yet."""
    from datetime import date, timedelta

    root = tmp_path_factory.mktemp("prolific")
    path = root / "prolific.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(PROLIFIC):
            day = date(2021, 1, 1) + timedelta(days=i // 4)
            row = {
                "arxiv_id": f"{day:%y%m}.{i:05d}",
                "title": f"Prolific paper {i}",
                "abstract": "An abstract.",
                "published": f"{day}T00:00:00Z",
                "daily_date": str(day),
                "submitted_on_daily_at": f"{day}T{i % 4:02d}:00:00Z",
                "submitted_by": "prolific",
                "upvotes": PROLIFIC - i,
            }
            f.write(json.dumps(row) + "\n")
    yield from _start_server(root / "data", extra_sources=(path,))


def test_newest_first_reaches_every_paper_of_a_prolific_submitter(
    prolific_server: LiveServer,
) -> None:
    out = run_client(
        prolific_server,
        """
        def titles(**kw):
            return [p.title for p in api.list_daily_papers(submitter="prolific", **kw)]
        print(json.dumps({
            "newest": titles(sort="publishedAt", limit=3),
            "last_page": titles(sort="publishedAt", limit=100, p=51),
            "past_the_end": titles(sort="publishedAt", limit=100, p=52),
            "part_page": titles(sort="publishedAt", limit=90, p=57),
            "most_upvoted": titles(limit=2),
        }))
        """,
    )
    last = PROLIFIC - 1
    assert out["newest"] == [f"Prolific paper {last - n}" for n in range(3)]
    assert out["last_page"] == [f"Prolific paper {last - n}" for n in range(5100, 5200)]
    assert out["past_the_end"] == []
    assert out["part_page"] == out["last_page"][30:]  # 5130..5199
    assert out["most_upvoted"] == ["Prolific paper 0", "Prolific paper 1"]
