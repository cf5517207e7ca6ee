"""Importers: every input format becomes `Paper` records, written to the store in batches.

`ingest_sources(store, ["file.jsonl.gz", "https://..."])` detects each input's format from
its content, parses it, and commits every `batch_size` records in one transaction, so a
crash loses at most the batch in flight and a rerun finishes the job (imports are
idempotent).
"""

from __future__ import annotations

import gzip
import io
import logging
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from paperfeed.errors import BadRequest, PaperfeedError
from paperfeed.ingest.records import Record, Rejected, SourceError
from paperfeed.ingest.sources import HEAD_BYTES, detect_source
from paperfeed.models import UpsertCounts
from paperfeed.progress import Progress
from paperfeed.store import Store

log = logging.getLogger(__name__)
MAX_PROBLEMS_KEPT = 1000
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class IngestReport:
    """What an import did: counts, every rejected entry (up to a cap) and failed inputs."""

    papers: UpsertCounts = field(default_factory=UpsertCounts)
    daily: UpsertCounts = field(default_factory=UpsertCounts)
    records: int = 0
    rejected: int = 0
    dropped_fields: int = 0
    problems: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # fields refused, papers kept
    failed_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    def reject(self, problem: str) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    def drop_field(self, problem: str) -> None:
        """A field was refused (e.g. a `javascript:` link) but its paper kept."""
        self.dropped_fields += 1
        if len(self.dropped) < MAX_PROBLEMS_KEPT:
            self.dropped.append(problem)

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        if self.dry_run:
            head = f"dry run: {self.records} records parsed, nothing written"
        else:
            p = self.papers
            head = (
                f"added {p.added}, updated {p.updated}, unchanged {p.unchanged}"
                f" papers; daily list +{self.daily.added} ~{self.daily.updated}"
            )
        tail = f"; rejected {self.rejected}"
        if self.dropped_fields:
            tail += f"; fields dropped {self.dropped_fields}"
        tail += f"; {self.records} records in {self.seconds:.1f}s"
        tail += f" ({rate:,.0f}/s)"
        if self.failed_sources:
            tail += f"; FAILED inputs: {len(self.failed_sources)}"
        return head + tail


class _Counting(io.RawIOBase):
    """Counts bytes read from the raw input, for progress over compressed files."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class _Gunzip(io.RawIOBase):
    """Decompresses piece by piece so that a damaged gzip still yields all it can.

    A buffered read that fails half-way drops the bytes it already had, so the first error
    reads as end of input and is kept in `error`; the next read raises it.
    """

    def __init__(self, gz: gzip.GzipFile) -> None:
        self.gz = gz
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.error is not None:
            raise self.error
        try:
            data = self.gz.read1(len(buffer))
        except (EOFError, zlib.error, OSError) as exc:
            self.error = exc
            return 0
        buffer[: len(data)] = data
        return len(data)


@dataclass
class Document:
    """One readable input: a file, or one page fetched from a URL."""

    name: str
    stream: IO[bytes]
    total_bytes: int | None
    counter: _Counting
    gunzip: _Gunzip | None = None

    @property
    def bytes_done(self) -> int:
        return self.counter.count


def open_document(name: str, raw: IO[bytes], total: int | None) -> Document:
    """Wrap `raw`, transparently gunzipping it when it starts with the gzip magic."""
    counter = _Counting(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        gunzip = _Gunzip(gzip.GzipFile(fileobj=buffered))
        stream: IO[bytes] = io.BufferedReader(gunzip, buffer_size=1 << 20)
        return Document(name, stream, total, counter, gunzip)
    return Document(name, buffered, total, counter)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def documents(source: str) -> Iterator[Document]:
    """The documents of one source: a local file, or the pages behind a URL."""
    if is_url(source):
        from paperfeed.ingest.fetch import fetch_pages

        for url, body in fetch_pages(source):
            yield open_document(url, io.BytesIO(body), len(body))
        return
    path = Path(source)
    if path.is_dir():
        raise BadRequest(f"{source}: is a directory; give the files in it (e.g. {source}/*.jsonl)")
    if not path.is_file():
        raise BadRequest(f"{source}: no such file")
    with path.open("rb") as raw:
        yield open_document(source, raw, path.stat().st_size)


def _read_records(doc: Document) -> Iterator[Record | Rejected]:
    """Detect the document's format and parse it; low-level read errors become SourceError."""
    try:
        head = doc.stream.peek(HEAD_BYTES)[:HEAD_BYTES]  # type: ignore[attr-defined]
        if not head and doc.gunzip is not None and doc.gunzip.error is not None:
            raise doc.gunzip.error  # damaged from the first block on: not "empty"
        source = detect_source(head, doc.name)
        log.info("%s: format %s", doc.name, source.name)
        if head.startswith(UTF8_BOM):  # as Windows tools write UTF-8; JSON parsers refuse it
            doc.stream.read(len(UTF8_BOM))
        yield from source.parse(doc.stream, doc.name)
        if doc.gunzip is not None and doc.gunzip.error is not None:
            raise doc.gunzip.error
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise SourceError(f"{doc.name}: unreadable input ({exc or type(exc).__name__})") from exc


def ingest_sources(
    store: Store,
    sources: Sequence[str],
    *,
    batch_size: int = 5000,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Import every source; a bad source is reported and the others still run."""
    progress = progress or Progress(enabled=False)
    report = IngestReport(dry_run=dry_run)
    started = time.perf_counter()
    batch: list[Record] = []

    def flush() -> None:
        if batch and not dry_run:
            report.papers += store.upsert_papers(r.paper for r in batch)
            report.daily += store.upsert_daily(r.daily for r in batch if r.daily)
        batch.clear()

    done = False
    for source in sources:
        if done:
            break
        try:
            for doc in documents(source):
                progress.start(doc.name, doc.total_bytes)
                for item in _read_records(doc):
                    if isinstance(item, Rejected):
                        report.reject(str(item))
                        continue
                    for note in item.notes:
                        report.drop_field(f"{doc.name}: {item.paper.id}: {note}")
                    batch.append(item)
                    report.records += 1
                    if len(batch) >= batch_size:
                        flush()
                        progress.update(doc.bytes_done, note=f"{report.records} records")
                    if limit is not None and report.records >= limit:
                        done = True
                        break
                flush()
                progress.update(doc.bytes_done, note=f"{report.records} records")
                if done:
                    break
        except (SourceError, PaperfeedError) as exc:
            flush()  # keep the good records read before the failure
            message = exc.message if isinstance(exc, PaperfeedError) else str(exc)
            report.failed_sources.append(message)
            report.problems.append(message)
    flush()
    progress.finish()
    report.seconds = time.perf_counter() - started
    return report
