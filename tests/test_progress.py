"""Long jobs show progress: plain log lines on stderr when it is not a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def test_ingest_reports_progress_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "paperfeed",
            "ingest",
            "--no-index",
            str(FIXTURES / "web_papers.jsonl"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert any(re.fullmatch(r"\S*web_papers\.jsonl: started", line) for line in lines), lines
    done = r"\S*web_papers\.jsonl: 90 records \(100%\) \(done\)"
    assert any(re.fullmatch(done, line) for line in lines), lines
    assert "90 records" in proc.stdout  # the summary still goes to stdout
