"""Bad input: rejected records, unreadable files, truncation, and a crash between batches."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from paperfeed.store.sqlite import SqliteStore

SAMPLE = "arxiv_cs_daily_sample_3000.jsonl.gz"
API = "arxiv_api_query_all-science_2019-08-10.xml"


def sample_lines(fixtures_dir: Path) -> list[str]:
    with gzip.open(fixtures_dir / SAMPLE, "rt", encoding="utf-8") as f:
        return f.readlines()


def papers_in(data_dir: Path) -> int:
    store = SqliteStore(data_dir / "paperfeed.sqlite3")
    try:
        return store.stats().papers
    finally:
        store.close()


def assert_one_clean_error(result, expected: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_records_are_reported_and_good_ones_kept(cli, data_dir, fixtures_dir, tmp_path):
    good = sample_lines(fixtures_dir)[:5]
    no_title = json.loads(good[1])
    del no_title["title"]
    bad_id = dict(json.loads(good[2]), arxiv_id="not-an-arxiv-id")
    lines = [
        good[0],
        '{"arxiv_id": "2602.00001", "title": \n',  # cut-off JSON
        good[1],
        json.dumps(no_title) + "\n",
        "\n",
        json.dumps(bad_id) + "\n",
        good[2],
        good[3],
        good[4],
        "[1, 2, 3]\n",
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    result = cli("ingest", "--no-index", str(path))
    assert result.exit_code == 0, result.output
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected:")]
    assert rejected[0].startswith(f"rejected: {path}: line 2: invalid JSON")
    assert rejected[1:] == [
        f"rejected: {path}: line 4: missing title",
        f"rejected: {path}: line 6: not an arXiv id: 'not-an-arxiv-id'",
        f"rejected: {path}: line 10: not a JSON object",
    ]
    assert "added 5, updated 0, unchanged 0 papers" in result.stdout
    assert "rejected 4" in result.stdout
    assert papers_in(data_dir) == 5


def test_truncated_gzip_keeps_what_was_read(cli, data_dir, fixtures_dir, tmp_path):
    raw = (fixtures_dir / SAMPLE).read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(raw[: len(raw) // 2])
    result = cli("ingest", "--no-index", "--batch-size", "100", str(path))
    assert_one_clean_error(result, f"{path}: unreadable input")
    assert 1000 < papers_in(data_dir) < 3000


def test_corrupt_gzip_is_one_clean_error(cli, data_dir, fixtures_dir, tmp_path):
    raw = bytearray((fixtures_dir / SAMPLE).read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)  # a run of zeros inside the deflate stream
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(raw))
    result = cli("ingest", "--no-index", "--batch-size", "100", str(path))
    assert_one_clean_error(result, f"{path}: unreadable input")
    assert 0 < papers_in(data_dir) < 3000


def test_empty_file(cli, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert_one_clean_error(cli("ingest", "--no-index", str(path)), f"{path}: empty input")


def test_unknown_format_fails_but_other_inputs_are_imported(cli, data_dir, fixtures_dir, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("These are my reading notes, not a paper feed.\n")
    result = cli("ingest", "--no-index", str(path), str(fixtures_dir / API))
    assert_one_clean_error(result, f"{path}: not a known format")
    assert "added 10" in result.stdout and "FAILED inputs: 1" in result.stdout
    assert papers_in(data_dir) == 10


def test_missing_file(cli, tmp_path):
    path = tmp_path / "nowhere.jsonl"
    assert_one_clean_error(cli("ingest", "--no-index", str(path)), f"{path}: no such file")


def test_truncated_xml_keeps_the_entries_before_the_cut(cli, data_dir, fixtures_dir, tmp_path):
    text = (fixtures_dir / API).read_text(encoding="utf-8")
    cut = text.index("</entry>", text.index("0808.0639")) + len("</entry>") + 200
    path = tmp_path / "cut.xml"
    path.write_text(text[:cut], encoding="utf-8")
    result = cli("ingest", "--no-index", str(path))
    assert_one_clean_error(result, "malformed or truncated XML at line")
    assert papers_in(data_dir) == 6  # the six complete entries before the cut


def test_truncated_gzipped_xml(cli, data_dir, fixtures_dir, tmp_path):
    raw = gzip.compress(
        (fixtures_dir / "arxiv_oai_listrecords_arXiv_set-cs_2015-01-16.xml").read_bytes()
    )
    path = tmp_path / "oai.xml.gz"
    path.write_bytes(raw[: len(raw) * 2 // 3])
    result = cli("ingest", "--no-index", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert 0 < papers_in(data_dir) < 46


def _count(db: Path) -> int:
    """Papers committed so far, read without taking any lock from the writer."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # not created or migrated yet


def _ingest_command(data_dir: Path, source: Path) -> list[str]:
    return [
        sys.executable, "-m", "paperfeed", "--data-dir", str(data_dir),
        "ingest", str(source), "--batch-size", "100", "--no-index",
    ]  # fmt: skip


def test_crash_between_batches_then_rerun(fixtures_dir, tmp_path):
    lines = sample_lines(fixtures_dir)
    big = tmp_path / "big.jsonl"
    big.write_text("".join(lines), encoding="utf-8")
    ids = [json.loads(line)["arxiv_id"] for line in lines]
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    # Kill the import once some, but not all, batches are committed. The import is fast,
    # so a try that finishes before the poll sees a middle state is started again.
    for attempt in range(5):
        data_dir = tmp_path / f"data{attempt}"
        db = data_dir / "paperfeed.sqlite3"
        proc = subprocess.Popen(
            _ingest_command(data_dir, big),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen = 0
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            seen = _count(db) if db.exists() else 0
            if 0 < seen < len(ids):
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            break
    assert proc.returncode == -signal.SIGKILL, "never caught the import between batches"

    committed = _count(db)
    assert 0 < committed < len(ids)
    assert committed % 100 == 0  # whole batches only: nothing half-written

    rerun = subprocess.run(
        _ingest_command(data_dir, big), env=env, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"added {len(ids) - committed}, updated 0, unchanged {committed} papers" in rerun.stdout

    store = SqliteStore(db)
    try:
        assert store.stats().papers == len(ids)
        stored, after = [], None
        while page := store.list_papers(after_id=after, limit=1000):
            stored += [item.paper.id for item in page]
            after = page[-1].paper.id
        assert sorted(stored) == sorted(ids)  # every paper exactly once
        assert store.last_seq() == len(ids)  # one change per paper, none from a lost batch
    finally:
        store.close()


def test_gzip_damaged_from_the_start(cli, fixtures_dir, tmp_path):
    raw = (fixtures_dir / SAMPLE).read_bytes()
    path = tmp_path / "stub.jsonl.gz"
    path.write_bytes(raw[:30])  # the header and a few bytes of the first block
    assert_one_clean_error(cli("ingest", "--no-index", str(path)), f"{path}: unreadable input")


def test_a_limit_or_batch_below_one_is_refused_before_anything_is_read(cli, data_dir, fixtures_dir):
    for option in ("--limit", "--batch-size"):
        for value in ("0", "-1"):
            result = cli("ingest", "--no-index", option, value, str(fixtures_dir / API))
            assert result.exit_code == 2, (option, value, result.stdout)
            assert option in result.stderr
    assert papers_in(data_dir) == 0
    assert cli("ingest", "--no-index", "--limit", "1", str(fixtures_dir / API)).exit_code == 0
    assert papers_in(data_dir) == 1


def test_a_byte_order_mark_costs_no_record(cli, data_dir, fixtures_dir, tmp_path):
    """Windows tools write UTF-8 with a BOM: the format was recognised through it, but the
    JSON parser then refused the first line (JSONL) or the whole file (HF daily JSON)."""
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + "".join(sample_lines(fixtures_dir)[:3]).encode())
    hf = tmp_path / "bom.json"
    hf.write_bytes(
        b"\xef\xbb\xbf" + (fixtures_dir / "hf_daily_papers_2026-07-09.json").read_bytes()
    )
    result = cli("ingest", "--no-index", str(jsonl), str(hf))
    assert result.exit_code == 0, result.output
    assert "rejected 0" in result.stdout and papers_in(data_dir) == 3 + 7


def test_a_directory_is_named_as_one(cli, tmp_path):
    assert_one_clean_error(
        cli("ingest", "--no-index", str(tmp_path)), f"{tmp_path}: is a directory"
    )
