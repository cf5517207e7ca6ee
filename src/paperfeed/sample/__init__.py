"""The bundled sample corpus: real HF daily papers (2024-2026) so a fresh instance has content.

Built by `scripts/build_sample.py`; `paperfeed serve` loads it into an empty catalogue.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from paperfeed.ingest import IngestReport, ingest_sources
from paperfeed.store import Store


def sample_path() -> Path:
    return Path(str(resources.files("paperfeed.sample") / "papers.jsonl.gz"))


def load_sample(store: Store) -> IngestReport:
    """Import the bundled sample (idempotent)."""
    return ingest_sources(store, [str(sample_path())])
