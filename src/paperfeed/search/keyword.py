"""Keyword retrieval on tantivy: English stemming and stop words, title weighted over abstract.

User text never reaches a query parser: `parse_query` splits it into quoted phrases and plain
words, the words go through the same analyzer as the index, and the query is built from
term/phrase objects. So no input can raise a syntax error.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import tantivy

ANALYZER = "en_paper"
TITLE_BOOST = 0.1  # title matches count again on top of the title+abstract text field
MAX_QUERY_CHARS = 250


def analyzer() -> tantivy.TextAnalyzer:
    """Words, lower-cased, accents folded, English stop words dropped, Porter-stemmed."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


_ANALYZER = analyzer()
_WORDS = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .build()
)


def analyze(text: str) -> list[str]:
    """Index terms of `text` (the stage shared by indexing, queries and snippets)."""
    return list(_ANALYZER.analyze(text))


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A user query split into index terms and quoted phrases (each a list of terms)."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...] = ()
    offsets: tuple[tuple[int, ...], ...] = ()  # position of each phrase term (stop words skipped)

    @property
    def all_terms(self) -> set[str]:
        return set(self.terms) | {t for p in self.phrases for t in p}

    def __bool__(self) -> bool:
        return bool(self.terms or self.phrases)


_QUOTED = re.compile(r'"([^"]*)"')


def parse_query(text: str) -> ParsedQuery:
    """Quoted parts become phrases, the rest plain terms; operators are just characters."""
    text = text[:MAX_QUERY_CHARS]
    phrases, offsets = [], []
    for m in _QUOTED.finditer(text):
        positioned = [
            (pos, term)
            for pos, word in enumerate(_WORDS.analyze(m.group(1)))
            for term in analyze(word)[:1]
        ]
        if len(positioned) > 1:
            offsets.append(tuple(p - positioned[0][0] for p, _ in positioned))
            phrases.append(tuple(t for _, t in positioned))
    rest = _QUOTED.sub(lambda m: " " + m.group(1) if len(analyze(m.group(1))) <= 1 else " ", text)
    terms = tuple(dict.fromkeys(analyze(rest.replace('"', " "))))
    return ParsedQuery(terms, tuple(phrases), tuple(offsets))


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """What the keyword index keeps of one paper."""

    row: int  # row of the paper in the vector arrays (stable per paper id)
    id: str
    title: str
    abstract: str
    day: date | None = None
    categories: Sequence[str] = ()
    has_code: bool = False
    new: bool = False  # surely not in the index yet (a new row): no delete by id needed


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions on the result set; all optional."""

    since: date | None = None
    until: date | None = None
    categories: tuple[str, ...] = ()  # any of these
    has_code: bool | None = None

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.categories or self.has_code is not None)


@dataclass(frozen=True, slots=True)
class KeywordHits:
    """Rows and BM25 scores, best first."""

    rows: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("row", stored=True, indexed=True, fast=True)
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", tokenizer_name=ANALYZER)
    sb.add_text_field("text", tokenizer_name=ANALYZER)  # title + abstract
    sb.add_text_field("category", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("day", indexed=True, fast=True)
    sb.add_integer_field("has_code", indexed=True, fast=True)
    return sb.build()


class KeywordIndex:
    """A tantivy index in its own directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.index.register_tokenizer(ANALYZER, analyzer())
        self._searcher: tantivy.Searcher | None = None

    @classmethod
    def create_empty(cls, path: Path) -> KeywordIndex:
        if path.exists():
            shutil.rmtree(path)
        return cls(path)

    def add(self, docs: Iterable[IndexDoc], *, heap_bytes: int = 256_000_000) -> int:
        """Insert or replace documents (by id), commit once; returns how many were written."""
        writer = self.index.writer(heap_size=heap_bytes, num_threads=2)
        n = 0
        for d in docs:
            if not d.new:  # each delete term is looked up in every segment at commit
                writer.delete_documents_by_term("id", d.id)
            doc = tantivy.Document(
                row=d.row,
                id=d.id,
                title=d.title,
                text=f"{d.title}\n{d.abstract}",
                has_code=int(d.has_code),
            )
            if d.day is not None:
                doc.add_integer("day", d.day.toordinal())
            for cat in d.categories:
                doc.add_text("category", cat)
            writer.add_document(doc)
            n += 1
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self._searcher = None
        return n

    @property
    def searcher(self) -> tantivy.Searcher:
        if self._searcher is None:
            self.index.reload()
            self._searcher = self.index.searcher()
        return self._searcher

    def num_docs(self) -> int:
        return int(self.searcher.num_docs)

    def ideal_score(self, q: ParsedQuery, title_boost: float = TITLE_BOOST) -> float:
        """The keyword score of a paper of average length holding every query term once.

        tantivy's BM25 gives a term idf x (1 + k1) x tf / (tf + k1 x (1 - b + b x len/avglen)),
        which at tf = 1 and average length is just its idf = ln(1 + (N - n + 0.5) / (n + 0.5));
        the title field adds `title_boost` x its own idf. Fusion divides keyword scores by
        this when the best hit scores less, so that a best hit matching only common words
        is not taken for a full match (`paperfeed.search.fusion.fuse`).
        """
        searcher = self.searcher
        n = max(int(searcher.num_docs), 1)
        total = 0.0
        for term in q.all_terms:
            for name, boost in (("text", 1.0), ("title", title_boost)):
                df = int(searcher.doc_freq(name, term))
                total += boost * float(np.log1p((n - df + 0.5) / (df + 0.5)))
        return total

    def _text_query(self, q: ParsedQuery, title_boost: float) -> tantivy.Query:
        Occur, Query = tantivy.Occur, tantivy.Query
        clauses = []
        for term in q.terms:
            clauses.append(
                (
                    Occur.Should,
                    Query.boost_query(Query.term_query(self.schema, "title", term), title_boost),
                )
            )
            clauses.append((Occur.Should, Query.term_query(self.schema, "text", term)))
        for phrase, offsets in zip(q.phrases, q.offsets, strict=False):
            words: list[str | tuple[int, str]] = list(zip(offsets, phrase, strict=False))
            either = Query.boolean_query(
                [
                    (
                        Occur.Should,
                        Query.boost_query(
                            Query.phrase_query(self.schema, "title", words), title_boost
                        ),
                    ),
                    (Occur.Should, Query.phrase_query(self.schema, "text", words)),
                ]
            )
            clauses.append((Occur.Must, either))
        return Query.boolean_query(clauses)

    def _match_query(
        self, q: ParsedQuery, filters: Filters | None, *, every: bool = True
    ) -> tantivy.Query:
        """Papers that contain every term (`every`, else any term) and every phrase of `q`."""
        Occur, Query = tantivy.Occur, tantivy.Query
        terms = [Query.term_query(self.schema, "text", t) for t in q.terms]
        if every:
            clauses = [(Occur.Must, t) for t in terms]
        else:
            clauses = [(Occur.Must, Query.boolean_query([(Occur.Should, t) for t in terms]))]
        for phrase, offsets in zip(q.phrases, q.offsets, strict=False):
            words: list[str | tuple[int, str]] = list(zip(offsets, phrase, strict=False))
            clauses.append((Occur.Must, Query.phrase_query(self.schema, "text", words)))
        return Query.boolean_query([*clauses, *(self.filter_query(filters) if filters else [])])

    def newest_matches(
        self, q: ParsedQuery, *, limit: int, filters: Filters | None = None, every: bool = True
    ) -> tuple[list[int], int]:
        """Rows of the newest `limit` papers that contain every word of `q` (`every`, else
        any), newest first, and how many papers match in all: the whole match set is
        ordered in the index (by the `day` fast field), not a relevance top-N."""
        if not q or (not every and not q.terms):
            return [], 0
        searcher = self.searcher
        res = searcher.search(
            self._match_query(q, filters, every=every),
            limit=limit,
            count=True,
            order_by_field="day",
            order=tantivy.Order.Desc,
        )
        addrs = [a for _, a in res.hits]
        rows = searcher.fast_field_values("row", addrs) if addrs else []
        return [int(r or 0) for r in rows], int(getattr(res, "count", 0) or 0)

    def matching_rows(
        self,
        q: ParsedQuery,
        rows: Sequence[int],
        filters: Filters | None = None,
        *,
        every: bool = True,
    ) -> set[int]:
        """Which of `rows` contain every (or any) word of `q` and pass `filters`."""
        if not q or not rows:
            return set()
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "row", list(rows))),
                (tantivy.Occur.Must, self._match_query(q, filters, every=every)),
            ]
        )
        searcher = self.searcher
        res = searcher.search(query, limit=len(rows), count=False)
        return {int(r or 0) for r in searcher.fast_field_values("row", [a for _, a in res.hits])}

    def filter_query(self, filters: Filters) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        Occur, Query = tantivy.Occur, tantivy.Query
        must = []
        if filters.since or filters.until:
            must.append(
                (
                    Occur.Must,
                    Query.range_query(
                        self.schema,
                        "day",
                        tantivy.FieldType.Integer,
                        filters.since.toordinal() if filters.since else None,
                        filters.until.toordinal() if filters.until else None,
                    ),
                )
            )
        if filters.categories:
            must.append(
                (
                    Occur.Must,
                    Query.term_set_query(self.schema, "category", list(filters.categories)),
                )
            )
        if filters.has_code is not None:
            must.append(
                (Occur.Must, Query.term_query(self.schema, "has_code", int(filters.has_code)))
            )
        return must

    def search(
        self,
        q: ParsedQuery,
        *,
        limit: int = 100,
        filters: Filters | None = None,
        title_boost: float = TITLE_BOOST,
    ) -> KeywordHits:
        """BM25 top `limit` rows for the parsed query, within `filters`."""
        if not q:
            return KeywordHits()
        query = self._text_query(q, title_boost)
        if filters:
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), *self.filter_query(filters)]
            )
        searcher = self.searcher
        res = searcher.search(query, limit=limit, count=False)
        addrs = [a for _, a in res.hits]
        rows = searcher.fast_field_values("row", addrs) if addrs else []
        return KeywordHits([int(r or 0) for r in rows], [float(s) for s, _ in res.hits])

    def rows_matching(self, rows: Sequence[int], filters: Filters) -> set[int]:
        """Which of `rows` pass `filters` (used for candidates that came from the ANN)."""
        if not rows:
            return set()
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "row", list(rows))),
                *self.filter_query(filters),
            ]
        )
        searcher = self.searcher
        res = searcher.search(query, limit=len(rows), count=False)
        return {int(r or 0) for r in searcher.fast_field_values("row", [a for _, a in res.hits])}
