"""Relevance of an instance's own search on known-item queries: MRR@10 and Recall@10."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paperfeed.errors import BadRequest


@dataclass(frozen=True, slots=True)
class EvalReport:
    queries: int
    mrr_at_10: float
    recall_at_10: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "queries": self.queries,
            "mrr@10": round(self.mrr_at_10, 4),
            "recall@10": round(self.recall_at_10, 4),
        }


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; BadRequest (a one-line CLI error) when it cannot be
    read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{path}: not UTF-8 text (byte {exc.start})") from None


def is_header(n: int, line: str) -> bool:
    """Line `n` is the optional `query<TAB>...` header of a queries TSV."""
    return n == 1 and line.lower().startswith("query\t")


def read_queries(path: Path) -> list[tuple[str, str]]:
    """`query<TAB>arxiv_id[<TAB>...]` lines; a header line starting with `query` is skipped."""
    pairs = []
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip() or is_header(n, line):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            raise BadRequest(f"{path}:{n}: expected 'query<TAB>arxiv_id'")
        pairs.append((parts[0], parts[1].strip()))
    if not pairs:
        raise BadRequest(f"{path}: no queries")
    return pairs


def evaluate(
    ranked_ids: Callable[[str], Sequence[str]], pairs: Sequence[tuple[str, str]]
) -> EvalReport:
    """Score a ranking function (query -> ids best first) against one target per query."""
    rr = hits = 0.0
    for query, target in pairs:
        top = list(ranked_ids(query))[:10]
        if target in top:
            rr += 1.0 / (top.index(target) + 1)
            hits += 1
    n = len(pairs)
    return EvalReport(n, rr / n if n else 0.0, hits / n if n else 0.0)
