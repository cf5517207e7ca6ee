"""The core install works without the optional extras (psycopg for PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Runs the CLI with psycopg made unimportable, as on `pip install -e .` without extras.
WITHOUT_PSYCOPG = (
    "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None; "
    "from paperfeed.cli import main; sys.argv = ['paperfeed', *sys.argv[1:]]; main()"
)


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PSYCOPG, *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_cli_and_stats_work_without_psycopg(tmp_path: Path) -> None:
    assert run_cli(["--help"], tmp_path).returncode == 0
    sample = Path(__file__).parent / "fixtures" / "hf_daily_sample.jsonl"
    result = run_cli(["ingest", str(sample), "--no-index"], tmp_path)  # creates the store
    assert result.returncode == 0, result.stderr
    result = run_cli(["stats", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"papers": 60' in result.stdout
    assert "Traceback" not in result.stderr


def test_postgres_url_without_psycopg_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli(["stats"], tmp_path, PAPERFEED_DATABASE_URL="postgresql://127.0.0.1:5432/test")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "paperfeed[postgres]" in result.stderr
