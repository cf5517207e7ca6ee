"""Commands that only read never create a store: pointed at a database that is not there,
they say so in one line and exit non-zero, leaving no file or folder behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

READ_ONLY = [
    ("stats",),
    ("stats", "--json"),
    ("papers", "list"),
    ("papers", "show", "2401.00001"),
    ("search", "diffusion"),
    ("similar", "2401.00001"),
    ("index",),
    ("index", "--json"),
    ("sources", "list"),
    ("users", "list"),
    ("subscribers", "list"),
    ("digest", "preview", "reader@example.org"),
    ("library", "list", "--user", "reader@example.org"),
    ("library", "export", "--daily", "latest"),
    ("recommend", "--user", "reader@example.org"),
]


def paperfeed(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_does_not_create_the_database(tmp_path: Path, args) -> None:  # noqa: ANN001
    """`paperfeed stats` with sqlite:////nonexistent/dir/x.db made the folder and an empty
    database there, and answered "0 papers" as if that were the catalogue."""
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data")}
    proc = paperfeed("--database-url", f"sqlite:///{missing}", *args, env=env)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.splitlines() == [f"Error: no paperfeed database at {missing} "
                                        "(check --data-dir / --database-url; `paperfeed ingest` "
                                        "or `paperfeed serve` creates one)"]  # fmt: skip
    assert not (tmp_path / "nonexistent").exists()


def test_doctor_reports_a_missing_database_without_creating_it(tmp_path: Path) -> None:
    data = tmp_path / "no-such-data-dir"
    proc = paperfeed("--data-dir", str(data), "doctor", env={"PAPERFEED_BASE_URL": ""})
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"FAIL  database   no paperfeed database at {data}")
    assert not data.exists()


def test_a_command_that_writes_still_creates_the_database(tmp_path: Path, fixtures_dir) -> None:  # noqa: ANN001
    data = tmp_path / "new-data-dir"
    sample = str(fixtures_dir / "hf_daily_sample.jsonl")
    assert paperfeed("--data-dir", str(data), "ingest", sample, env={}).returncode == 0
    proc = paperfeed("--data-dir", str(data), "stats", "--json", env={})
    assert proc.returncode == 0 and '"papers": 60' in proc.stdout
