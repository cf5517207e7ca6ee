"""Load the shared ../shared/data corpus and dev queries for the search benchmarks.

Every benchmark uses the same corpus: all ``*.jsonl.gz`` files, deduplicated on ``arxiv_id``
(first file wins, cs shards first), so numbers are comparable across scripts.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(os.environ.get("PAPERFEED_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATA = SHARED / "data"
DEV_QUERIES = SHARED / "eval" / "dev_queries.tsv"
CACHE = Path(
    os.environ.get("PAPERFEED_BENCH_CACHE", Path(__file__).resolve().parents[1] / ".data" / "bench")
)


@dataclass(frozen=True, slots=True)
class Doc:
    arxiv_id: str
    title: str
    abstract: str


def load_corpus(limit: int | None = None) -> list[Doc]:
    """All distinct papers of ../shared/data, in a stable order."""
    files = sorted(DATA.glob("arxiv_cs_daily_*.jsonl.gz")) + sorted(
        p for p in DATA.glob("*.jsonl.gz") if not p.name.startswith("arxiv_cs_daily_")
    )
    seen: set[str] = set()
    docs: list[Doc] = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                aid = rec["arxiv_id"]
                if aid in seen:
                    continue
                seen.add(aid)
                docs.append(Doc(aid, rec["title"], rec["abstract"]))
                if limit and len(docs) >= limit:
                    return docs
    return docs


def load_queries(path: Path = DEV_QUERIES) -> list[tuple[str, str]]:
    """(query, target arxiv_id) pairs from a TSV with a header line."""
    pairs = []
    with open(path, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[0]:
                pairs.append((parts[0], parts[1]))
    return pairs


def mrr_recall(ranked: list[list[str]], targets: list[str], k: int = 10) -> tuple[float, float]:
    """MRR@k and Recall@k for one target per query."""
    rr = hit = 0.0
    for ids, target in zip(ranked, targets, strict=False):
        top = ids[:k]
        if target in top:
            rr += 1.0 / (top.index(target) + 1)
            hit += 1
    n = max(len(targets), 1)
    return rr / n, hit / n
