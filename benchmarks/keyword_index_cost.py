r"""Where the keyword index's CPU goes: the shipped index against variants, same papers.

    paperfeed --data-dir /tmp/kw ingest --no-index \
        ../shared/data/arxiv_cs_daily_2024-2026.part-00.jsonl.gz
    python benchmarks/keyword_index_cost.py --data-dir /tmp/kw

Reads every paper's text back from the store once, then indexes all of them into a fresh
index per variant (one commit each) and prints the CPU seconds of the process for each.
The variants (no stemmer, no separate title field, `add_json`) are measurements only:
the first two change the ranking that the relevance figures were measured with.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import tantivy

from paperfeed.search.indexer import index_doc
from paperfeed.search.keyword import IndexDoc, KeywordIndex
from paperfeed.settings import load_settings
from paperfeed.store.sqlite import SqliteStore


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def shipped(docs: Sequence[IndexDoc], path: Path) -> int:
    return KeywordIndex.create_empty(path).add(docs)


def json_docs(docs: Sequence[IndexDoc], path: Path) -> int:
    index = KeywordIndex.create_empty(path)
    writer = index.index.writer(heap_size=256_000_000, num_threads=2)
    for d in docs:
        doc: dict[str, object] = {
            "row": d.row,
            "id": d.id,
            "title": d.title,
            "text": f"{d.title}\n{d.abstract}",
            "has_code": int(d.has_code),
            "category": list(d.categories),
        }
        if d.day is not None:
            doc["day"] = d.day.toordinal()
        writer.add_json(orjson.dumps(doc).decode())
    writer.commit()
    writer.wait_merging_threads()
    return len(docs)


def documents_only(docs: Sequence[IndexDoc], path: Path) -> int:
    for d in docs:
        doc = tantivy.Document(
            row=d.row, id=d.id, title=d.title, text=f"{d.title}\n{d.abstract}", has_code=1
        )
        if d.day is not None:
            doc.add_integer("day", d.day.toordinal())
        for cat in d.categories:
            doc.add_text("category", cat)
    return len(docs)


def variant(docs: Sequence[IndexDoc], path: Path, *, stem: bool, title: bool) -> int:
    """The shipped schema and analyzer, less the stemmer and/or the title field."""
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("row", stored=True, indexed=True, fast=True)
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    if title:
        sb.add_text_field("title", tokenizer_name="v")
    sb.add_text_field("text", tokenizer_name="v")
    sb.add_text_field("category", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("day", indexed=True, fast=True)
    sb.add_integer_field("has_code", indexed=True, fast=True)
    path.mkdir(parents=True)
    index = tantivy.Index(sb.build(), path=str(path))
    analyzer = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stopword("english"))
    )
    if stem:
        analyzer = analyzer.filter(tantivy.Filter.stemmer("english"))
    index.register_tokenizer("v", analyzer.build())
    writer = index.writer(heap_size=256_000_000, num_threads=2)
    for d in docs:
        fields: dict[str, object] = {
            "row": d.row,
            "id": d.id,
            "text": f"{d.title}\n{d.abstract}",
            "has_code": int(d.has_code),
        }
        if title:
            fields["title"] = d.title
        doc = tantivy.Document(**fields)
        if d.day is not None:
            doc.add_integer("day", d.day.toordinal())
        for cat in d.categories:
            doc.add_text("category", cat)
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    return len(docs)


VARIANTS: dict[str, Callable[[Sequence[IndexDoc], Path], int]] = {
    "KeywordIndex.add (shipped)": shipped,
    "the same through IndexWriter.add_json": json_docs,
    "building the tantivy.Documents alone": documents_only,
    "same schema and analyzer, built apart": lambda d, p: variant(d, p, stem=True, title=True),
    "without the stemmer": lambda d, p: variant(d, p, stem=False, title=True),
    "without the title field": lambda d, p: variant(d, p, stem=True, title=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    store = SqliteStore(load_settings(data_dir=args.data_dir).sqlite_path)
    texts = store.paper_texts_since(0, limit=10_000_000)
    store.close()
    docs = [index_doc(row, text, new=True) for row, text in enumerate(texts)]
    print(f"{len(docs):,} papers")
    work = Path(tempfile.mkdtemp(prefix="pf-kwcost-"))
    try:
        for _ in range(args.repeat):
            for name, build in VARIANTS.items():
                path = work / f"{len(list(work.iterdir()))}"
                cpu, wall = cpu_seconds(), time.perf_counter()
                build(docs, path)
                print(
                    f"{name:40s} {cpu_seconds() - cpu:6.2f} CPU s "
                    f"{time.perf_counter() - wall:6.2f} s wall",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
