"""`/openapi.json` tells the truth (issue 9, item 13): errors are documented as answered
(400/404 `{"error", "status"}`, never 422), feeds as RSS/Atom, papers, daily items and
comments with schemas; schemathesis checks real answers against the documented schemas,
status codes and content types."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import LiveServer

ERROR = {"$ref": "#/components/schemas/Error"}


def test_errors_feeds_and_models_are_documented(web_server: LiveServer) -> None:
    spec = httpx.get(web_server.url + "/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert set(schemas["Error"]["required"]) == {"error", "status"}
    assert {"DailyItem", "Paper", "PaperInfo", "Comment", "Submitter"} <= set(schemas)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert "422" not in op["responses"], (method, path)
            for status, answer in op["responses"].items():
                if status.startswith("4") and path.startswith("/api/"):
                    assert answer["content"]["application/json"]["schema"] == ERROR, path
    daily = spec["paths"]["/api/daily_papers"]["get"]["responses"]
    assert daily["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/DailyItem"
    }
    assert "400" in daily
    paper = spec["paths"]["/api/papers/{paper_id}"]["get"]["responses"]
    assert "404" in paper and "PaperInfo" in str(paper["200"])
    comments = spec["paths"]["/api/papers/{paper_id}/comments"]["get"]["responses"]
    assert "Comment" in str(comments["200"])
    for feed in ("/feeds/daily.{fmt}", "/feeds/search.{fmt}", "/feeds/trending"):
        content = spec["paths"][feed]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/rss+xml", "application/atom+xml"}
    bibtex = spec["paths"]["/api/papers/{paper_id}/bibtex"]["get"]["responses"]["200"]
    assert set(bibtex["content"]) == {"application/x-bibtex"}


def test_answers_match_the_documented_schemas(web_server: LiveServer, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(exe),
            "run",
            f"{web_server.url}/openapi.json",
            "--checks=not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--phases=examples,fuzzing",
            "--max-examples=5",
            "--seed=20250101",
            "--workers=1",
            "--suppress-health-check=all",
            "--warnings=off",
            "--include-method=GET",
            "--include-path-regex=^/(api|feeds)/",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "No issues found" in out, out[-6000:]
