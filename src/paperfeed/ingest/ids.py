"""arXiv identifiers: one canonical form, version split off."""

from __future__ import annotations

import re

# New style 0704.0001 .. 2607.12345 (4 or 5 digits after the dot); old style hep-th/9901001.
_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
ID_PATTERN = re.compile(rf"(?P<id>{_NEW}|{_OLD})(?:v(?P<version>\d+))?", re.IGNORECASE)
_PREFIXES = ("arxiv:", "https://arxiv.org/abs/", "http://arxiv.org/abs/", "oai:arxiv.org:")


def normalize_arxiv_id(raw: str) -> tuple[str, int | None]:
    """`(canonical id, version or None)`; raises ValueError when `raw` is not an arXiv id.

    Accepts `2509.17971v2`, `arXiv:2509.17971`, `http://arxiv.org/abs/hep-th/9901001v1`,
    `oai:arXiv.org:cs/0112017`.
    """
    text = raw.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    match = ID_PATTERN.fullmatch(text)
    if not match:
        raise ValueError(f"not an arXiv id: {raw!r}")
    paper_id = match["id"]
    if "/" in paper_id:
        archive, number = paper_id.split("/")
        name, _, subject = archive.partition(".")
        archive = f"{name.lower()}.{subject.upper()}" if subject else name.lower()
        paper_id = f"{archive}/{number}"
    version = int(match["version"]) if match["version"] else None
    return paper_id, version


def find_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """The first arXiv id mentioned in `text` (e.g. an entry URL), or None."""
    for match in ID_PATTERN.finditer(text):
        try:
            return normalize_arxiv_id(match.group(0))
        except ValueError:
            continue
    return None
