"""Ingest benchmark: the full shared corpus into a fresh SQLite store, against a baseline.

    python benchmarks/ingest.py [--data ../shared/data] [--batch-size 5000] [--index MODE]

Prints records/s for what `paperfeed ingest` does and, in the same process on the same
files, for two baselines: parse only (gunzip + orjson per line) and a bare load (orjson + one
`executemany` INSERT into a plain table per 5000 rows). `--index follow` (default, what
`paperfeed ingest` does): the keyword index is built beside the import
(`paperfeed.search.follow`) and the figure is the time until both are done; `--index after`:
the import, then `sync_keyword_index`, timed apart; `--index none`: the import alone.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import orjson

from paperfeed.ingest import ingest_sources
from paperfeed.search import sync_keyword_index
from paperfeed.settings import load_settings
from paperfeed.store.sqlite import SqliteStore

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def corpus_files(data: Path) -> list[Path]:
    files = sorted(data.glob("*.jsonl.gz"))
    if not files:
        sys.exit(f"no *.jsonl.gz files in {data}")
    return files


def cpu_seconds() -> float:
    """CPU time of this process, every thread (tantivy's too): a figure less moved by the
    other jobs on a shared machine than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_only(files: list[Path]) -> tuple[int, float]:
    started, n = time.perf_counter(), 0
    for path in files:
        with gzip.open(path, "rb") as f:
            for line in f:
                orjson.loads(line)
                n += 1
    return n, time.perf_counter() - started


def bare_load(files: list[Path], db: Path, batch: int) -> tuple[int, float]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE papers (id TEXT PRIMARY KEY, title TEXT, abstract TEXT, authors TEXT)"
    )
    started, n, rows = time.perf_counter(), 0, []

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO papers VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        rows.clear()

    for path in files:
        with gzip.open(path, "rb") as f:
            for line in f:
                r = orjson.loads(line)
                rows.append(
                    (r["arxiv_id"], r["title"], r["abstract"], orjson.dumps(r.get("authors")))
                )
                n += 1
                if len(rows) >= batch:
                    flush()
    flush()
    elapsed = time.perf_counter() - started
    conn.close()
    return n, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--index", choices=("follow", "after", "none"), default="follow")
    args = parser.parse_args()
    files = corpus_files(args.data)
    size = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} files, {size:.0f} MB gzip in {args.data}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-") as tmp:
        tmp_path = Path(tmp)
        n_parse, t_parse = parse_only(files)
        print(
            f"baseline parse only      : {n_parse:,} records in {t_parse:.1f}s "
            f"= {n_parse / t_parse:,.0f} records/s"
        )
        cpu = cpu_seconds()
        n_bare, t_bare = bare_load(files, tmp_path / "bare.sqlite3", args.batch_size)
        cpu_bare = cpu_seconds() - cpu
        bare_rate = n_bare / t_bare
        print(
            f"baseline bare load       : {n_bare:,} records in {t_bare:.1f}s "
            f"= {bare_rate:,.0f} records/s ({cpu_bare:.1f} CPU s)"
        )

        settings = load_settings(data_dir=tmp_path / "data")
        store = SqliteStore(settings.sqlite_path)
        sources = [str(p) for p in files]
        started, cpu = time.perf_counter(), cpu_seconds()
        if args.index == "follow":
            from paperfeed.search.follow import following_imports

            with following_imports(store, settings):
                report = ingest_sources(store, sources, batch_size=args.batch_size)
        else:
            report = ingest_sources(store, sources, batch_size=args.batch_size)
        t_import = time.perf_counter() - started
        papers = store.stats().papers
        rate = report.records / report.seconds
        label = "(index beside it)" if args.index == "follow" else "(store only)"
        print(
            f"paperfeed import {label}: {report.records:,} records -> {papers:,} papers in "
            f"{report.seconds:.1f}s = {rate:,.0f} records/s ({rate / bare_rate:.2f} x bare load)"
        )
        print(f"  {report.summary()}")
        if report.failed_sources or report.rejected:
            print(f"  problems: {report.problems[:5]}")
        if args.index == "after":
            cpu_import = cpu_seconds() - cpu
            started = time.perf_counter()
            sync_keyword_index(store, settings)
            t_index = time.perf_counter() - started
            cpu_index = cpu_seconds() - cpu - cpu_import
            print(
                f"keyword index sync       : {t_index:.1f}s = {papers / t_index:,.0f} papers/s "
                f"(import {cpu_import:.1f} CPU s, index {cpu_index:.1f} CPU s)"
            )
            t_import += t_index
        cpu = cpu_seconds() - cpu
        if args.index != "none":
            total = report.records / t_import
            print(
                f"ingest + keyword index   : {t_import:.1f}s ({cpu:.1f} CPU s, "
                f"{cpu / cpu_bare:.1f} x the bare load's) = {total:,.0f} records/s "
                f"= {total / bare_rate:.2f} x bare load "
                f"({total / (n_parse / t_parse):.2f} x parse only)"
            )
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        store.close()


if __name__ == "__main__":
    main()
