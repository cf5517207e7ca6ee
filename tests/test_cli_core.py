"""The core CLI: papers, stats, errors as one line, and `serve` on an empty data dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from paperfeed.cli import app

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args])

    return invoke


def test_papers_show_list_and_stats_after_ingest(run):
    result = run("ingest", str(FIXTURES / "hf_daily_sample.jsonl"))
    assert result.exit_code == 0, result.output
    listed = json.loads(run("papers", "list", "--json").stdout)
    assert listed and {"id", "title", "summary", "authors", "publishedAt", "upvotes"} <= set(
        listed[0]
    )
    assert listed == sorted(listed, key=lambda p: -p["upvotes"])
    shown = json.loads(run("papers", "show", listed[0]["id"], "--json").stdout)
    assert shown["id"] == listed[0]["id"]
    assert all(set(a) == {"name"} for a in shown["authors"])
    text = run("papers", "show", f"{listed[0]['id']}v1").stdout  # a version suffix is accepted
    assert listed[0]["title"] in text
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["papers"] == 60 and stats["dailyEntries"] == 60
    assert 0 < len(listed) < 60  # only the latest day is listed by default


@pytest.mark.parametrize(
    "args, message",
    [
        (("papers", "show", "2401.99999"), "no paper"),
        (("papers", "show", "not-an-id"), "not an arXiv id"),
        (("papers", "list", "--day", "2024-13-45"), "invalid date"),
        (("ingest", "/no/such/file.jsonl"), "no such file"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    open_store(load_settings(data_dir=tmp_path / "data")).close()  # an empty catalogue
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "paperfeed", *args], capture_output=True, text=True, env=env
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert message in proc.stderr and any(line.startswith("Error: ") for line in lines)


@pytest.mark.parametrize(
    "args, option",
    [
        (("ingest", "--limit", "0", str(FIXTURES / "web_papers.jsonl")), "--limit"),
        (("ingest", "--limit", "-1", str(FIXTURES / "web_papers.jsonl")), "--limit"),
        (("ingest", "--batch-size", "0", str(FIXTURES / "web_papers.jsonl")), "--batch-size"),
        (("serve", "--no-sample", "--port", "70000"), "--port"),
        (("serve", "--no-sample", "--port", "-1"), "--port"),
    ],
)
def test_out_of_range_numbers_are_refused_before_anything_runs(tmp_path, args, option):
    """`ingest --limit 0` imported one record, `--limit -1` too, `--batch-size 0` committed
    one at a time and `serve --port 70000` was an OverflowError traceback."""
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and f"Invalid value for '{option}'" in proc.stderr
    assert not (tmp_path / "data" / "paperfeed.sqlite3").exists()  # nothing was opened


def test_serve_loads_the_sample_into_an_empty_data_dir_and_answers(tmp_path):
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_DIGEST_TIME": ""}
    proc = subprocess.Popen(  # --port 0: the kernel picks the port at bind, nobody can take it
        [sys.executable, "-m", "paperfeed", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output = ""
    try:
        while not (serving := re.search(r"serving on (http://127\.0\.0\.1:\d+)/", output)):
            line = proc.stdout.readline()
            assert line, output  # the server exited before serving
            output += line
        response = httpx.get(serving.group(1) + "/", timeout=30)
        assert response.status_code == 200
    finally:
        proc.terminate()
        output += proc.communicate(timeout=30)[0]
    assert "loading the bundled sample" in output
    assert "added 9774" in output
    # The sample was indexed beside its import (search/follow.py), complete before serving.
    from paperfeed.search.keyword import KeywordIndex

    index = tmp_path / "data" / "index"
    assert json.loads((index / "state.json").read_text())["keyword_docs"] == 9774
    assert KeywordIndex(index / "keyword").num_docs() == 9774
