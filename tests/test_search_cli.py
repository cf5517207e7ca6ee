"""Search from the command line: search, --batch, eval, index; every nasty query."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from search_helpers import WEB_PAPERS
from test_search import NASTY_QUERIES
from typer.testing import CliRunner

from paperfeed.cli import app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-search")
    result = CliRunner().invoke(app, ["--data-dir", str(path), "ingest", str(WEB_PAPERS)])
    assert result.exit_code == 0, result.output
    return path


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.stdout, result.stderr


def test_search_json_has_hf_shape(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "search", "agent-native video representation", "--json", "-n", "3")
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 3
    p = hits[0]["paper"]
    assert p["id"] == "2608.12313"
    assert {"id", "title", "summary", "authors", "publishedAt", "upvotes"} <= set(p)
    assert all(set(a) == {"name"} for a in p["authors"])


def test_search_text_output_and_filters(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "search", "video", "--has-code", "--sort", "date", "-n", "5")
    assert code == 0 and len(out.strip().splitlines()) == 5
    code, _, err = run(data_dir, "search", "video", "--since", "yesterday")
    assert code == 2 and err.strip().startswith("Error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("query", [q for q in NASTY_QUERIES if "\x00" not in q])
def test_nasty_queries_through_the_cli(data_dir: Path, query: str) -> None:
    code, out, err = run(data_dir, "search", query, "--json", "-n", "3")
    assert code == 0, err
    assert isinstance(json.loads(out), list)


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_a_one_line_error(data_dir: Path, query: str) -> None:
    code, out, err = run(data_dir, "search", query)
    assert code == 2
    assert err.strip() == "Error: empty query: type a few words to search for"
    assert "Traceback" not in out + err


def test_query_starting_with_dash_via_subprocess(data_dir: Path) -> None:
    exe = shutil.which("paperfeed") or ""
    cmd = [exe] if exe else [sys.executable, "-m", "paperfeed"]
    out = subprocess.run(
        [*cmd, "--data-dir", str(data_dir), "search", "--json", "--", "-negative +plus \x01 AND("],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert isinstance(json.loads(out.stdout), list)


def test_batch_mode_prints_one_json_line_per_query(data_dir: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "q.tsv"
    tsv.write_text('query\tarxiv_id\nagent-native video\t2608.12313\n"unbalanced (\tx\n')
    code, out, _ = run(data_dir, "search", "--batch", str(tsv), "--json", "-n", "2")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == ["agent-native video", '"unbalanced (']
    assert lines[0]["results"][0]["paper"]["id"] == "2608.12313"


def test_eval_prints_mrr_and_recall(data_dir: Path, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in WEB_PAPERS.read_text().splitlines()[:10]]
    tsv = tmp_path / "eval.tsv"
    tsv.write_text("".join(f"{r['title']}\t{r['arxiv_id']}\n" for r in rows))
    code, out, _ = run(data_dir, "eval", str(tsv), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["queries"] == 10
    assert report["mrr@10"] > 0.8 and report["recall@10"] == 1.0
    code, out, _ = run(data_dir, "eval", str(tsv))
    assert code == 0 and "MRR@10" in out
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    code, _, err = run(data_dir, "eval", str(bad))
    assert code == 2 and "expected 'query<TAB>arxiv_id'" in err


def test_index_status_and_rebuild(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "index", "--rebuild", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["keyword_pending"] == 0 and status["vectors_pending"] == 0
    assert status["papers_indexed"] == 90 and status["vectors"] == 90
    code, out, _ = run(data_dir, "index")
    assert code == 0 and "0 pending" in out


def test_similar_command(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "similar", "2608.12313", "--json", "-n", "4")
    assert code == 0
    ids = [item["paper"]["id"] for item in json.loads(out)]
    assert len(ids) == 4 and "2608.12313" not in ids
    code, _, err = run(data_dir, "similar", "0000.00000")
    assert code == 1 and err.startswith("Error: no paper")


def test_batch_queries_are_the_first_column_of_every_line(data_dir: Path, tmp_path: Path) -> None:
    """A tab after the first two lines made the whole line the query ("TSV of queries (first
    column)"); a line without one, after two with one, stopped the run."""
    tsv = tmp_path / "mixed.tsv"
    tsv.write_text("video\ndiffusion\nagent-native video\t2608.12313\tnote\n\t\nagents\n")
    code, out, err = run(data_dir, "search", "--batch", str(tsv), "--json", "-n", "1")
    assert code == 0, err
    queries = [json.loads(line)["query"] for line in out.splitlines()]
    assert queries == ["video", "diffusion", "agent-native video", "agents"]


@pytest.mark.parametrize("args", [("search", "--batch"), ("eval",)])
def test_a_queries_file_not_in_utf8_is_a_one_line_error(
    data_dir: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    tsv = tmp_path / "latin1.tsv"
    tsv.write_bytes("réseaux de neurones\t2608.12313\n".encode("latin-1"))
    code, out, err = run(data_dir, *args, str(tsv))
    assert code == 2 and "Traceback" not in out + err
    assert err.strip() == f"Error: {tsv}: not UTF-8 text (byte 1)"


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_since_after_until_is_an_error(data_dir: Path, extra: list[str]) -> None:
    """An empty range is a mistake in the command, not a search without results."""
    code, out, err = run(
        data_dir, "search", "video", "--since", "2026-08-21", "--until", "2026-08-20", *extra
    )
    assert code == 2 and out == ""
    assert err.strip() == "Error: --since 2026-08-21 must not be after --until 2026-08-20"
    code, out, _ = run(
        data_dir, "search", "video", "--since", "2026-08-20", "--until", "2026-08-20"
    )
    assert code == 0 and out.strip()


@pytest.mark.parametrize(
    "turned_off", [{"PAPERFEED_TRANSFORMER": "off"}, {"PAPERFEED_EMBEDDER": "static"}]
)
def test_index_shows_a_transformer_turned_off_as_off_not_pending(
    data_dir: Path, turned_off: dict[str, str]
) -> None:
    """`index --json` said 90 papers pending for a transformer that is off and will never
    fill them (and /admin/search, reading the same count, reloaded itself for ever)."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in turned_off.keys() | {
        "PAPERFEED_TRANSFORMER", "PAPERFEED_EMBEDDER"}}  # fmt: skip
    paperfeed = [sys.executable, "-m", "paperfeed", "--data-dir", str(data_dir), "index"]
    proc = subprocess.run(
        [*paperfeed, "--json"], capture_output=True, text=True, env={**env, **turned_off}
    )
    assert proc.returncode == 0, proc.stderr
    transformer = json.loads(proc.stdout)["transformer"]
    assert transformer["off"] is True and transformer["model"] == ""
    assert transformer["pending"] == 0
    proc = subprocess.run(paperfeed, capture_output=True, text=True, env={**env, **turned_off})
    assert "transformer             off (static vectors only" in proc.stdout
    assert "pending (filled by" not in proc.stdout
