"""README's "How it fits together" names real places: every path it gives exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "paperfeed"


def layout_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## How it fits together")
    return text[start : text.index("\n## ", start + 1)]


def test_every_path_in_the_layout_section_exists() -> None:
    """Paths are relative to src/paperfeed/ or the repository; a bare file name in a line
    that names folders (a table row such as `search/` | `service.py`) is in one of them."""
    checked, missing = 0, []
    for line in layout_section().splitlines():
        paths = re.findall(r"`([\w./<>-]+(?:\.py|\.sql|/))`", line)
        folders = [PACKAGE / p for p in paths if p.endswith("/")]
        for path in paths:
            for pattern in ("<", "NNNN"):  # ingest/<name>.py: its folder must exist
                if pattern in path:
                    path = path[: path.index(pattern)]
            bases = [PACKAGE, ROOT] + (folders if "/" not in path else [])
            checked += 1
            if not any((base / path).exists() for base in bases):
                missing.append(path)
    assert checked > 40  # the section really lists the layout
    assert not missing, f"README names paths that do not exist: {missing}"
