"""The search service: the one object the CLI, the web app, feeds and digests call.

    service = SearchService(store, settings)          # or open_search(settings, store)
    results = service.search("upper bound", limit=10, filters=Filters(has_code=True),
                             sort="relevance")       # -> SearchResults (iterable of Hit)
    service.similar("2509.17971", limit=6)           # -> SearchResults
    service.nearest(papers, limit=6, exclude=ids)     # -> SearchResults (more like these)
    service.static_vectors(papers)                    # -> float32 rows (the static model's)
    service.status()                                  # -> IndexStatus (what is pending,
                                                      #    the transformer's progress)
    service.sync_transformer(max_seconds=10)          # fill transformer vectors, newest first
    service.rebuild(progress=callback)                # blocks until every index is complete
    service.close()

It joins two parts: the `Indexer` (index state, one lock, sync from the store, repair, the
background worker; `paperfeed.search.indexer`) and the query pipeline of pure stages
(`paperfeed.search.pipeline`). Results are cached per service (`ResultCache`, ids only,
keyed on the store's change sequence and the indexes' progress), so pages, API, feeds and
digests that ask the same question share one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence, Set
from dataclasses import dataclass, field

import numpy as np

from paperfeed.errors import NotFound
from paperfeed.models import StoredPaper
from paperfeed.search import pipeline
from paperfeed.search.backfill import TransformerStore
from paperfeed.search.cache import ResultCache
from paperfeed.search.dense import (
    DENSE_CANDIDATES,
    DenseScores,
    dense_stage,
    nearest_papers,
    unit_mean,
)
from paperfeed.search.embed import Embedder, make_embedder, paper_text
from paperfeed.search.fusion import DENSE_WEIGHT, TRANSFORMER_FUSION, fuse, keyword_trusted
from paperfeed.search.indexer import (
    IndexDamaged,
    Indexer,
    Progress,
    remove_index,
    sync_keyword_index,
)
from paperfeed.search.keyword import Filters
from paperfeed.search.results import Hit, IndexStatus, SearchResults
from paperfeed.search.snippets import Matched, Span, matched, window
from paperfeed.search.vectors import AnnUnreadable
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

CENTROID_EMBEDS = 8  # papers embedded by the transformer for a centroid when none has a vector

__all__ = [
    "Hit",
    "IndexStatus",
    "SearchResults",
    "SearchService",
    "make_embedder",
    "open_search",
    "remove_index",
    "sync_keyword_index",
]


@dataclass
class _Read:
    """What ranking one query read (the coverage stage's papers, their abstracts' matches by
    text): the same call attaches its papers and snippets from them instead of again."""

    papers: dict[str, StoredPaper] = field(default_factory=dict)
    matches: dict[str, Matched] = field(default_factory=dict)


class SearchService:
    """Hybrid search over one store, with its derived indexes kept in step."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        background: bool = True,
        poll_seconds: float = 5.0,
        repair: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings
        self.indexer = Indexer(store, settings, embedder=embedder, poll_seconds=poll_seconds)
        self.cache: ResultCache[SearchResults] = ResultCache()
        if repair:
            self.indexer.repair()
        if background:
            self.indexer.start_worker()

    # --- the indexer's side ---------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The static embedder (every paper's first vectors)."""
        return self.indexer.embedder

    @property
    def transformer(self) -> Embedder | None:
        """The transformer filling the second vector index (None when off)."""
        return self.indexer.transformer

    def repair(self) -> None:
        self.indexer.repair()

    def sync_keyword(self, *, batch: int = 20_000, progress: Progress | None = None) -> int:
        return self.indexer.sync_keyword(batch=batch, progress=progress)

    def sync_vectors(
        self, *, batch: int = 512, progress: Progress | None = None, max_papers: int | None = None
    ) -> int:
        return self.indexer.sync_vectors(batch=batch, progress=progress, max_papers=max_papers)

    def sync_transformer(
        self,
        *,
        progress: Progress | None = None,
        max_papers: int | None = None,
        max_seconds: float | None = None,
    ) -> int:
        """Fill the transformer's vectors, newest papers first (see `Indexer`)."""
        return self.indexer.sync_transformer(
            progress=progress, max_papers=max_papers, max_seconds=max_seconds
        )

    def rebuild(self, *, progress: Progress | None = None) -> IndexStatus:
        """Rebuild every index, the transformer's included; blocks until all are complete."""
        status = self.indexer.rebuild(progress=progress)
        self.cache.clear()
        return status

    def status(self, *, checksums: bool = False) -> IndexStatus:
        """The indexes' progress; `checksums` also verifies the vector files (`Indexer.status`)."""
        return self.indexer.status(checksums=checksums)

    def start_worker(self) -> None:
        self.indexer.start_worker()

    def stop_worker(self) -> None:
        self.indexer.stop_worker()

    def close(self) -> None:
        self.indexer.close()

    # --- queries -------------------------------------------------------------------------

    def generation(self) -> tuple[object, ...]:
        """What cached rankings depend on (the store's change sequence first, then each
        index's progress, the transformer's fill), after following other processes' index
        writes: a page cache keyed on it re-renders as soon as results can move. One store
        read (the sequence); the rest a stat when unchanged."""
        self.indexer.refresh()
        return self._cache_key()

    def _cache_key(self, *parts: object, seq: int | None = None) -> tuple[object, ...]:
        st = self.indexer.state
        ts = self.indexer.query_transformer()
        filled = ts.filled() if ts is not None else 0  # rankings move as the backfill fills
        seq = self.store.last_seq() if seq is None else seq
        return (*parts, seq, st.keyword_seq, st.vector_seq, filled)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        filters: Filters | None = None,
        sort: str = "relevance",
        with_papers: bool = True,
        seq: int | None = None,
    ) -> SearchResults:
        """Best papers for `query`; raises BadRequest for an empty query or a bad sort.

        Rankings (ids and scores) are cached, keyed on the store's change sequence: `seq`
        when the caller read it for this request (the first item of `generation()`, read by
        the page cache before the page), else read here. Papers and snippets are attached
        fresh.
        """
        req = pipeline.make_request(query, limit=limit, filters=filters, sort=sort)
        self.indexer.refresh()
        key = self._cache_key("search", req.text, req.limit, req.filters, req.sort, seq=seq)
        read = _Read()  # filled only when this call ranks (no cached ranking)
        if req.sort == "upvotes":  # votes do not move the change sequence: never cached
            ranked = self._rank_sorted(req)
        elif req.sort == "date" and req.parsed:
            ranked = self.cache.get(key, lambda: self._rank_sorted(req))
        else:  # (a query without index terms has no word matches to sort: by relevance)
            ranked = self.cache.get(key, lambda: self._rank(req, read))
        if not with_papers:
            return ranked
        papers = {i: read.papers[i] for i in ranked.ids if i in read.papers}
        if missing := [i for i in ranked.ids if i not in papers]:
            papers |= {p.paper.id: p for p in self.store.get_papers(missing)}
        terms = ranked.terms  # the terms `read.matches` were matched on

        def snippet(abstract: str) -> tuple[Span, ...]:
            hits = read.matches.get(abstract) or matched(abstract, terms)
            return tuple(window(abstract, hits.spans))

        hits = [
            Hit(
                h.paper_id,
                h.score,
                h.keyword,
                h.dense,
                papers[h.paper_id],
                snippet(papers[h.paper_id].paper.abstract),
            )
            for h in ranked
            if h.paper_id in papers  # in the index but gone from the store: skip
        ]
        return ranked.with_hits(hits)

    def _rank(self, req: pipeline.SearchRequest, read: _Read | None = None) -> SearchResults:
        """The pipeline for one request: ids and score parts, best first (no papers); what
        the coverage stage reads goes into `read`."""
        ix = self.indexer
        kw = pipeline.keyword_stage(ix.keyword, req)
        dense = DenseScores({}, [], "static", 0.0)
        try:
            ts = ix.query_transformer()
            # the static index, or the transformer's alone (complete before the static one
            # exists: a big catalogue backfilled first, a static index being rebuilt)
            has_vectors = ix.vectors.ann_size() > 0 or ts is not None
            if has_vectors and req.wants_meaning:
                dense = self._dense(req, kw.rows, ts)
        except (IndexDamaged, AnnUnreadable) as exc:  # keyword results still stand
            log.warning("search: %s; answering by keyword only", exc)  # the worker repairs
            has_vectors = False
        # the dense scores are on the transformer's scale when any paper has a transformer
        # vector: then the transformer's fusion settings apply, else the static model's
        emb = ix.transformer if dense.scale == "transformer" else ix.embedder
        weight = getattr(emb, "fusion_weight", DENSE_WEIGHT) if dense.scores else DENSE_WEIGHT
        ideal = min_cover = 0.0
        soft = False
        if dense.scores and getattr(emb, "fusion_scale", "top") == "ideal":
            ideal = ix.keyword.ideal_score(req.parsed)  # see paperfeed.search.fusion
            min_cover, soft = TRANSFORMER_FUSION.min_cover, TRANSFORMER_FUSION.soft
        fused = fuse(
            kw.rows,
            kw.scores,
            dense.scores,
            weight=weight,
            ideal=ideal,
            min_cover=min_cover,
            soft=soft,
        )
        mode = "hybrid" if dense.scores and kw.rows else ("meaning" if dense.scores else "keyword")
        weights = getattr(emb, "coverage_weights", (0.0, 0.0))
        trusted = keyword_trusted(kw.scores, ideal=ideal, min_cover=min_cover)
        if dense.scores and req.parsed.terms and any(weights) and trusted:
            top = {r: ix.paper_id(r) for r in fused.rows[: pipeline.COVERAGE_TOP]}
            papers = {p.paper.id: p for p in self.store.get_papers([i for i in top.values() if i])}
            wanted = frozenset(req.parsed.all_terms)  # as for snippets: one match serves both
            terms: dict[int, list[str]] = {}
            for r, pid in top.items():
                if pid in papers:
                    paper = papers[pid].paper
                    abstract = matched(paper.abstract, wanted)
                    terms[r] = [*matched(paper.title, wanted).terms, *abstract.terms]
                    if read is not None:
                        read.papers[pid] = papers[pid]
                        read.matches[paper.abstract] = abstract
            idf = pipeline.idf_of(ix.keyword, req.parsed.terms)
            fused = pipeline.coverage_stage(fused, req, idf, terms, weights)
        ranked = pipeline.top_k(fused, ix.paper_id, req.limit)
        hits = [Hit(r.paper_id, r.score, r.keyword, r.dense) for r in ranked]
        pending = 0 if has_vectors else self.store.count_changes_since(ix.state.vector_seq)
        return SearchResults(
            req.text,
            hits,
            mode,
            pending,
            close=pipeline.is_close(kw, dense.scores, emb),
            terms=frozenset(req.parsed.all_terms),
        )

    def _dense(
        self, req: pipeline.SearchRequest, keyword_rows: list[int], ts: TransformerStore | None
    ) -> DenseScores:
        """The dense stage: cosines on the transformer's scale (`paperfeed.search.dense`);
        `ts` is `Indexer.query_transformer()`, asked once per search."""
        ix = self.indexer
        qt = ix.transformer.embed([req.text])[0] if ts is not None and ix.transformer else None

        def qs() -> np.ndarray:  # needed only while some paper waits for its transformer vector
            return np.asarray(ix.embedder.embed([req.text])[0], dtype=np.float32)

        wanted = req.filters
        allowed = (lambda rows: ix.keyword.rows_matching(rows, wanted)) if wanted else None
        k = DENSE_CANDIDATES if req.parsed else max(req.limit, DENSE_CANDIDATES)
        return dense_stage(
            ix.vectors, qs, ts, qt, keyword_rows, allowed, nearest=not req.parsed.phrases, k=k
        )

    def _rank_sorted(self, req: pipeline.SearchRequest) -> SearchResults:
        """Every paper that matches the query's words, newest (or most upvoted) first.

        The whole match set is ordered in the keyword index (by its `day` fast field), so
        the newest match is first however many papers match. Matching means containing
        every word of the query (stemmed, stop words dropped) and every quoted phrase; when
        no paper has them all, papers with any of them. Upvotes are not in the index (they
        change without a catalogue change): the store lists the upvoted papers, the index
        says which of them match, and papers without upvotes follow, newest first.
        """
        ix = self.indexer
        kwx, parsed, filters = ix.keyword, req.parsed, req.filters
        every = True
        newest, total = kwx.newest_matches(parsed, limit=req.limit, filters=filters)
        if total == 0 and len(parsed.terms) > 1:
            every = False
            newest, total = kwx.newest_matches(
                parsed, limit=req.limit, filters=filters, every=False
            )
        rows = newest
        if req.sort == "upvotes" and total:
            upvoted = [
                (row, n)
                for pid, n in self.store.upvoted_ids()
                if (row := ix.rowmap.rows.get(pid)) is not None
            ]
            match = kwx.matching_rows(parsed, [r for r, _ in upvoted], filters, every=every)
            rows = [r for r, _ in upvoted if r in match][: req.limit]
            if len(rows) < req.limit:
                more, _ = kwx.newest_matches(
                    parsed, limit=req.limit + len(rows), filters=filters, every=every
                )
                taken = set(rows)
                rows += [r for r in more if r not in taken][: req.limit - len(rows)]
        hits = [Hit(pid, 0.0) for r in rows if (pid := ix.paper_id(r))]
        return SearchResults(
            req.text,
            hits,
            "keyword",
            close=total > 0,
            terms=frozenset(parsed.all_terms),
            total=total,
        )

    def similar(self, paper_id: str, *, limit: int = 10) -> SearchResults:
        """Papers closest in meaning to `paper_id` (not including it)."""
        self.indexer.refresh()
        item = self.store.get_paper(paper_id)
        if item is None:
            raise NotFound(f"no paper {paper_id!r} in the catalogue")
        key = self._cache_key("similar", paper_id, limit)
        return self._with_papers(self.cache.get(key, lambda: self._nearest([item], limit=limit)))

    def nearest(
        self,
        items: Sequence[StoredPaper],
        *,
        limit: int = 10,
        exclude: Set[str] = frozenset(),
    ) -> SearchResults:
        """Papers closest in meaning to `items` taken together (the mean of their vectors),
        none of them nor in `exclude`: "more like this collection". Not cached: callers key
        their own cache on `generation()`."""
        self.indexer.refresh()
        return self._with_papers(self._nearest(items, limit=limit, exclude=exclude))

    def _nearest(
        self,
        items: Sequence[StoredPaper],
        *,
        limit: int,
        exclude: Set[str] = frozenset(),
    ) -> SearchResults:
        """The ranking of `similar` and `nearest` (ids and scores, no papers).

        The query vectors are the normalised means of the items' vectors: the transformer's
        where they have one (with none, the first `CENTROID_EMBEDS` items are embedded), the
        static model's only while some paper waits for its transformer vector
        (`paperfeed.search.dense`)."""
        ix = self.indexer
        if not items:
            return SearchResults("", [], "meaning")
        rows = [ix.rowmap.rows.get(i.paper.id) for i in items]
        indexed = [r for r in rows if r is not None]
        ts, qt = ix.query_transformer(), None
        if ts is not None and ix.transformer is not None:
            qt = unit_mean(ts.vectors_of(indexed))
            if qt is None:
                qt = unit_mean(ix.transformer.embed([_text(i) for i in items[:CENTROID_EMBEDS]]))

        def qs() -> np.ndarray:  # needed only while some paper waits for its transformer vector
            vecs = self.static_vectors(items)
            q = unit_mean(vecs)
            return q if q is not None else vecs[0]

        leave_out = {i.paper.id for i in items} | exclude
        near = nearest_papers(ix.vectors, qs, ts, qt, ix.paper_id, limit=limit, leave_out=leave_out)
        title = items[0].paper.title if len(items) == 1 else ""
        return SearchResults(title, [Hit(pid, s, 0.0, s) for pid, s in near], "meaning")

    def static_vectors(self, items: Sequence[StoredPaper]) -> np.ndarray:
        """Each paper's static vector as the index holds it (read with `pread`: no file
        pages left in RSS); papers it does not hold yet are embedded. Float32, in order."""
        ix = self.indexer
        vecs = np.zeros((len(items), ix.embedder.dim), dtype=np.float32)
        rows = ix.rowmap.rows
        found = [(n, r) for n, i in enumerate(items) if (r := rows.get(i.paper.id)) is not None]
        if found and ix.vectors.dim == ix.embedder.dim:  # rows past the file's end read as 0
            vecs[[n for n, _ in found]] = ix.vectors.read_rows([r for _, r in found])
        if missing := [n for n in range(len(items)) if not vecs[n].any()]:
            vecs[missing] = ix.embedder.embed([_text(items[n]) for n in missing])
        return vecs

    def _with_papers(self, found: SearchResults) -> SearchResults:
        """`found` with each hit's paper (a paper gone from the store is left out)."""
        papers = {p.paper.id: p for p in self.store.get_papers(found.ids)}
        return found.with_hits(
            [
                Hit(h.paper_id, h.score, h.keyword, h.dense, papers[h.paper_id])
                for h in found
                if h.paper_id in papers
            ]
        )


def _text(item: StoredPaper) -> str:
    return paper_text(item.paper.title, item.paper.abstract)


def open_search(settings: Settings, store: Store, *, background: bool = True) -> SearchService:
    """The service the web app attaches at start-up (repairs lag, then embeds in background)."""
    return SearchService(store, settings, background=background)
