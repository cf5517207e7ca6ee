"""A field of the wrong type rejects its record only: the rest of the batch is kept, the
rerun is clean, and the report names the line and the field (issue 9, item 9)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from paperfeed.store.sqlite import SqliteStore

SAMPLE = "arxiv_cs_daily_sample_3000.jsonl.gz"

# field -> a value of the wrong type for it
BAD_VALUES = [
    ("primary_category", {"a": 1}),
    ("comment", 5),
    ("journal_ref", ["x"]),
    ("doi", {"doi": "10.1/x"}),
    ("categories", "cs.LG"),
    ("categories", [1, 2]),
    ("authors", [7]),
    ("authors", [None]),
    ("version", "two"),
    ("version", True),
    ("upvotes", "many"),
    ("upvotes", -3),
    ("num_comments", 1.5),
    ("submitted_by", {"name": "x"}),
    ("published", 20240101),
    ("title", ["a title"]),
    ("abstract", {"text": "x"}),
]


def sample(fixtures_dir: Path, n: int) -> list[dict]:
    with gzip.open(fixtures_dir / SAMPLE, "rt", encoding="utf-8") as f:
        return [json.loads(next(f)) for _ in range(n)]


def stored_ids(data_dir: Path) -> set[str]:
    store = SqliteStore(data_dir / "paperfeed.sqlite3")
    try:
        return {item.paper.id for item in store.list_papers(limit=1000)}
    finally:
        store.close()


def test_wrong_types_reject_the_record_and_keep_the_batch(cli, data_dir, fixtures_dir, tmp_path):
    records = sample(fixtures_dir, len(BAD_VALUES) + 3)
    good, bad = records[:3], records[3:]
    lines = [json.dumps(good[0])]
    for record, (field, value) in zip(bad, BAD_VALUES, strict=True):
        lines.append(json.dumps({**record, field: value, "daily_date": "2026-02-02"}))
    lines += [json.dumps(good[1]), json.dumps(good[2])]
    path = tmp_path / "typed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    for attempt in range(2):  # the rerun is as clean as the first run
        result = cli("ingest", str(path), "--no-index")
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output and "sqlite3" not in result.output
        assert f"rejected {len(BAD_VALUES)};" in result.stdout, result.stdout
        rejected = [x for x in result.stderr.splitlines() if x.startswith("rejected:")]
        assert len(rejected) == len(BAD_VALUES), result.stderr
        for number, (line, (field, _)) in enumerate(zip(rejected, BAD_VALUES, strict=True), 2):
            assert f"line {number}:" in line and field in line, (field, line)
        assert stored_ids(data_dir) == {r["arxiv_id"] for r in good}, attempt


def test_an_object_as_github_url_keeps_the_paper(cli, data_dir, fixtures_dir, tmp_path):
    records = sample(fixtures_dir, 3)
    records[1]["github_url"] = {"a": 1}
    path = tmp_path / "link.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = cli("ingest", str(path), "--no-index")
    assert result.exit_code == 0, result.output
    assert stored_ids(data_dir) == {r["arxiv_id"] for r in records}
    assert "github_url dropped" in result.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [("upvotes", "ten"), ("githubRepo", {"a": 1}), ("authors", "Jane Doe")],
)
def test_hf_daily_items_of_the_wrong_type_are_rejected_alone(
    cli, data_dir, fixtures_dir, tmp_path, field, value
):
    items = json.loads((fixtures_dir / "hf_daily_papers_2026-07-09.json").read_text())[:3]
    items[1]["paper"][field] = value
    path = tmp_path / "daily.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = cli("ingest", str(path), "--no-index")
    assert result.exit_code == 0, result.output
    kept = stored_ids(data_dir)
    assert {items[0]["paper"]["id"], items[2]["paper"]["id"]} <= kept
    if field == "githubRepo":  # a bad link only drops the field
        assert items[1]["paper"]["id"] in kept
    else:
        assert items[1]["paper"]["id"] not in kept
        assert "entry 2" in result.stderr and field in result.stderr
