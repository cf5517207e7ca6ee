"""Search through its Python API: fusion, filters, sorting, similar papers, snippets, queries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from search_helpers import WEB_PAPERS, make_env, paper

from paperfeed.errors import BadRequest, NotFound
from paperfeed.search import Filters, SearchService, parse_query
from paperfeed.search.fusion import (
    TRANSFORMER_FUSION,
    coverage_features,
    fuse,
    keyword_trusted,
    reciprocal_rank,
    rerank_coverage,
)
from paperfeed.search.snippets import spans, to_html

NASTY_QUERIES = [
    '"unbalanced quote',
    '""',
    '"" "" "',
    "AND OR NOT",
    "NOT",
    "(((",
    ")",
    "title:diffusion abstract:",
    "*",
    "?",
    "~2",
    "^3 boost^",
    "a -b +c",
    "-",
    "+",
    "[1 TO 5]",
    "{!lucene}",
    "&& || !",
    "NEAR(a b, 3)",
    "col:val:more",
    r"\frac{a}{b} $x^2 + \alpha$ \'e",
    "$$\\mathcal{O}(n \\log n)$$",
    "über café naïve Schrödinger",
    "日本語の論文",
    "模型 🤖 emoji 🚀",
    "'; DROP TABLE papers; --",
    "%_%",
    "\x00\x01\t\n",
    "\\",
    "a" * 250,
    "video " * 41,
    "x" * 400,
    "the of and",
    "...",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SearchService, object]]:
    data_dir = tmp_path_factory.mktemp("search-data")
    settings, store = make_env(data_dir, WEB_PAPERS)
    store.upsert_papers(
        [
            paper(
                "2501.00001",
                "Robust <script>alert(1)</script> & Co: Escaping Markup",
                "We show that <b>markup</b> & <script>alert('x')</script> in abstracts is harmless "
                "for robust readers. The script tag must never reach a browser unescaped.",
                categories=["cs.CR", "cs.LG"],
                primary_category="cs.CR",
                published=datetime(2020, 6, 1, tzinfo=UTC),
            ),
            paper(
                "2501.00002",
                "Regret upper bounds for bandits",
                "We prove an upper bound on the regret of optimistic algorithms for stochastic "
                "multi-armed bandits, improving the logarithmic rate.",
                categories=["cs.LG", "stat.ML"],
                primary_category="cs.LG",
                published=datetime(2019, 3, 1, tzinfo=UTC),
            ),
        ]
    )
    service = SearchService(store, settings, background=False)
    yield service, store
    service.close()
    store.close()


def first_line_titles(store: object, n: int) -> list[tuple[str, str]]:
    items = json.loads("[" + ",".join(WEB_PAPERS.read_text().splitlines()[:n]) + "]")
    return [(i["arxiv_id"], i["title"]) for i in items]


# --- fusion (pure) --------------------------------------------------------------------------


def test_fuse_scales_keyword_scores_and_adds_weighted_cosine() -> None:
    fused = fuse([1, 2, 3], [10.0, 5.0, 2.5], {1: 0.1, 2: 0.9, 3: 0.2, 7: 0.8}, weight=1.0)
    expected = {1: 1.0 + 0.1, 2: 0.5 + 0.9, 3: 0.25 + 0.2, 7: 0.0 + 0.8}
    assert fused.rows == sorted(expected, key=lambda r: -expected[r])
    assert fused.scores == pytest.approx(sorted(expected.values(), reverse=True))
    assert dict(zip(fused.rows, fused.keyword, strict=False))[7] == 0.0  # dense-only candidate
    assert dict(zip(fused.rows, fused.dense, strict=False))[1] == pytest.approx(0.1)


def test_fuse_weight_zero_is_keyword_order_and_ties_break_by_row() -> None:
    assert fuse([5, 4, 9], [3.0, 2.0, 1.0], {9: 1.0}, weight=0.0).rows == [5, 4, 9]
    assert fuse([], [], {3: 0.5, 1: 0.5}).rows == [1, 3]
    assert fuse([], [], {}).rows == []


def test_fuse_with_ideal_scales_keyword_by_the_larger_of_best_hit_and_ideal() -> None:
    # best hit 3.0 of an ideal 10.0: keyword parts 0.3 and 0.2 (cover 0.3 >= min_cover 0.25)
    fused = fuse([1, 2], [3.0, 2.0], {1: 0.2, 2: 0.2, 7: 0.45}, weight=1.0, ideal=10.0)
    assert dict(zip(fused.rows, fused.keyword, strict=False)) == pytest.approx(
        {1: 0.3, 2: 0.2, 7: 0.0}
    )
    assert fused.rows == [1, 7, 2]
    assert fused.scores == pytest.approx(
        [a + d for a, d in zip(fused.keyword, fused.dense, strict=True)]
    )
    # a best hit above the ideal: plain keyword / best hit, as without an ideal
    full = fuse([1, 2, 3], [12.0, 6.0, 3.0], {1: 0.1, 2: 0.3, 9: 0.6}, weight=1.0, ideal=10.0)
    assert full == fuse([1, 2, 3], [12.0, 6.0, 3.0], {1: 0.1, 2: 0.3, 9: 0.6}, weight=1.0)


def test_fuse_drops_keyword_evidence_when_the_best_hit_covers_too_little() -> None:
    # cover 0.3 < min_cover 0.5: the weak keyword matches lose their keyword part and the
    # paper found only by meaning (cosine 0.45) leads
    fused = fuse(
        [1, 2], [3.0, 2.0], {1: 0.2, 2: 0.3, 7: 0.45}, weight=1.0, ideal=10.0, min_cover=0.5
    )
    assert fused.rows == [7, 2, 1]
    assert fused.keyword == [0.0, 0.0, 0.0]
    # a best hit covering enough of the query (0.6) keeps the sum
    kept = fuse(
        [1, 2], [6.0, 2.0], {1: 0.2, 2: 0.3, 7: 0.45}, weight=1.0, ideal=10.0, min_cover=0.5
    )
    assert kept.rows == [1, 2, 7]  # 0.6 + 0.2, 0.2 + 0.3, 0.45
    # min_cover needs an ideal score; without one it has no effect
    assert fuse([1], [3.0], {7: 0.45}, weight=1.0, min_cover=0.9).rows == [1, 7]
    # no keyword hit at all: by meaning
    assert fuse([], [], {4: 0.2, 5: 0.7}, ideal=10.0, min_cover=0.5).rows == [5, 4]


def test_fuse_soft_scales_keyword_evidence_by_the_cover_below_min_cover() -> None:
    # cover 0.3 < min_cover 0.5, soft: keyword parts 0.3 x (3/10, 2/10) = 0.09, 0.06, kept
    # in the sum (a known-item query whose words the paper holds only in part keeps its
    # keyword evidence, weighted by how much of the query the best hit covers)
    fused = fuse(
        [1, 2],
        [3.0, 2.0],
        {1: 0.2, 2: 0.2, 7: 0.25},
        weight=1.0,
        ideal=10.0,
        min_cover=0.5,
        soft=True,
    )
    assert dict(zip(fused.rows, fused.keyword, strict=False)) == pytest.approx(
        {1: 0.09, 2: 0.06, 7: 0.0}
    )
    assert fused.rows == [1, 2, 7]  # 0.29, 0.26, 0.25; dropped (not soft) it is 7, 1, 2
    hard = fuse(
        [1, 2], [3.0, 2.0], {1: 0.2, 2: 0.2, 7: 0.25}, weight=1.0, ideal=10.0, min_cover=0.5
    )
    assert hard.rows == [7, 1, 2]
    # at or above min_cover soft changes nothing
    args = ([1, 2], [6.0, 2.0], {1: 0.2, 2: 0.3, 7: 0.45})
    assert fuse(*args, weight=1.0, ideal=10.0, min_cover=0.5, soft=True) == fuse(
        *args, weight=1.0, ideal=10.0, min_cover=0.5
    )
    # the transformer's setting: the plain gate (tied with soft under CV; RESULTS.md)
    assert not TRANSFORMER_FUSION.soft


def test_keyword_trust_is_what_fuse_uses_and_gates_the_coverage_stage() -> None:
    # the same rule as in `fuse` above: the service re-ranks by coverage (a keyword signal)
    # only while it holds
    assert not keyword_trusted([3.0, 2.0], ideal=10.0, min_cover=0.5)
    assert keyword_trusted([6.0, 2.0], ideal=10.0, min_cover=0.5)
    assert keyword_trusted([3.0], ideal=0.0, min_cover=0.9)  # no ideal: always
    assert not keyword_trusted([], ideal=10.0, min_cover=0.5)
    assert TRANSFORMER_FUSION.coverage_weights == pytest.approx(
        (TRANSFORMER_FUSION.cover, TRANSFORMER_FUSION.cover / 3)
    )


def test_coverage_features_weight_terms_by_idf_and_count_adjacent_pairs() -> None:
    idf = {"regret": 3.0, "bound": 1.0, "bandit": 2.0}
    cover, bigram = coverage_features(
        ["regret", "bound", "bandit"], idf, ["upper", "bound", "regret", "bound"]
    )
    assert cover == pytest.approx(4.0 / 6.0)  # regret + bound found, bandit missing
    assert bigram == pytest.approx(0.5)  # (regret, bound) adjacent, (bound, bandit) not
    assert coverage_features([], idf, ["regret"]) == (0.0, 0.0)
    assert coverage_features(["regret"], idf, ["regret"]) == (1.0, 0.0)


def test_rerank_coverage_adds_bonus_only_to_given_rows() -> None:
    fused = fuse([1, 2, 3], [10.0, 9.0, 1.0], {1: 0.0, 2: 0.0, 3: 0.0}, weight=1.0)
    out = rerank_coverage(fused, {2: (1.0, 0.0), 1: (0.0, 0.0)}, cover_weight=0.5, bigram_weight=1)
    assert out.rows == [2, 1, 3]
    assert out.scores == pytest.approx([1.4, 1.0, 0.1])
    assert out.keyword == pytest.approx([0.9, 1.0, 0.1])
    assert rerank_coverage(fused, {}, cover_weight=1, bigram_weight=1) == fused


def test_reciprocal_rank_reference() -> None:
    # RRF with k=60: row 2 is 2nd and 1st -> 1/62 + 1/61 beats row 1 (1/61 + 1/63).
    assert reciprocal_rank([[1, 2, 3], [2, 3, 1]], k=60)[0] == 2


# --- queries --------------------------------------------------------------------------------


def test_finds_a_known_paper_by_words_of_its_title(env) -> None:
    service, store = env
    for pid, title in first_line_titles(store, 5):
        results = service.search(title, limit=5)
        assert pid in [h.paper_id for h in results], title
        assert results.mode == "hybrid"


def test_meaning_only_query_still_answers(env) -> None:
    service, _ = env
    results = service.search("zzyzx qwertyuiop", limit=3)  # no keyword in the corpus
    assert results.mode == "meaning"
    assert len(results) == 3


def test_hits_carry_papers_and_scores_in_order(env) -> None:
    service, _ = env
    hits = service.search("regret upper bound bandits", limit=5).hits
    assert hits[0].paper_id == "2501.00002"
    assert hits[0].paper is not None and hits[0].paper.paper.title.startswith("Regret")
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_without_papers_hits_are_ids_only_in_the_same_order(env) -> None:
    service, _ = env
    query = "regret upper bound bandits"
    full = service.search(query, limit=5)
    bare = service.search(query, limit=5, with_papers=False)
    assert [h.paper_id for h in bare] == [h.paper_id for h in full]
    assert all(h.paper is None and h.snippet == () for h in bare)


def test_phrases_must_match(env) -> None:
    service, _ = env
    assert parse_query('"upper bound" regret').phrases == (("upper", "bound"),)
    ids = [h.paper_id for h in service.search('"upper bound on the regret"', limit=10)]
    assert ids == ["2501.00002"]


@pytest.mark.parametrize("query", NASTY_QUERIES)
def test_nasty_queries_never_raise(env, query: str) -> None:
    service, _ = env
    results = service.search(query, limit=5)
    assert len(results) <= 5


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_a_bad_request(env, query: str) -> None:
    service, _ = env
    with pytest.raises(BadRequest) as err:
        service.search(query)
    assert err.value.status_code == 400


def test_unknown_sort_is_a_bad_request(env) -> None:
    with pytest.raises(BadRequest):
        env[0].search("video", sort="random")


# --- filters and sorting --------------------------------------------------------------------


def test_has_code_filter(env) -> None:
    service, _ = env
    hits = service.search("video generation model", limit=20, filters=Filters(has_code=True)).hits
    assert hits and all(h.paper.paper.github_url for h in hits)
    hits = service.search("video generation model", limit=20, filters=Filters(has_code=False)).hits
    assert hits and not any(h.paper.paper.github_url for h in hits)


def test_date_filter(env) -> None:
    service, _ = env
    f = Filters(since=date(2026, 8, 17), until=date(2026, 8, 18))
    hits = service.search("language model agents", limit=50, filters=f).hits
    assert hits
    assert all(
        date(2026, 8, 17) <= h.paper.paper.published.date() <= date(2026, 8, 18) for h in hits
    )
    old = service.search("bandits regret", limit=10, filters=Filters(until=date(2019, 12, 31))).hits
    assert [h.paper_id for h in old] == ["2501.00002"]


def test_category_filter_applies_to_meaning_candidates_too(env) -> None:
    service, _ = env
    hits = service.search(
        "safe rendering of untrusted text", limit=10, filters=Filters(categories=("cs.CR",))
    ).hits
    assert [h.paper_id for h in hits] == ["2501.00001"]
    both = service.search("robust", limit=10, filters=Filters(categories=("cs.CR", "stat.ML"))).hits
    assert {h.paper_id for h in both} <= {"2501.00001", "2501.00002"}


def test_sort_by_date_and_upvotes(env) -> None:
    service, _ = env
    by_date = service.search("video", limit=20, sort="date").hits
    days = [h.paper.paper.published for h in by_date]
    assert days == sorted(days, reverse=True)
    by_votes = service.search("video", limit=20, sort="upvotes").hits
    votes = [h.paper.upvotes for h in by_votes]
    assert votes == sorted(votes, reverse=True) and votes[0] > 0


# --- similar papers and snippets ------------------------------------------------------------


def test_similar_papers(env) -> None:
    service, store = env
    pid, _ = first_line_titles(store, 1)[0]
    original = store.get_paper(pid).paper
    store.upsert_papers([paper("2501.00003", original.title + " (extended)", original.abstract)])
    service.sync_keyword()
    service.sync_vectors()
    similar = service.similar(pid, limit=5)
    ids = [h.paper_id for h in similar]
    assert pid not in ids
    assert ids[0] == "2501.00003"
    assert len(ids) == 5
    with pytest.raises(NotFound):
        service.similar("9999.99999")


def test_concurrent_searches_from_many_threads(env) -> None:
    """Request threads search at once (the web app does): no error, same answers as alone.

    model2vec's Rust tokenizer raised `RuntimeError: Already borrowed` when two threads
    embedded a query at the same moment; one thread also embeds a big batch meanwhile, as
    the background indexer does.
    """
    service, store = env
    titles = [t for _, t in first_line_titles(store, 40)]
    queries = [f"{t} {w}" for t in titles for w in ("method", "results", "benchmark")]
    expected = {q: [h.paper_id for h in service.search(q, limit=5)] for q in queries}
    abstracts = [
        p.paper.abstract for p in store.get_papers([i for i, _ in first_line_titles(store, 90)])
    ]
    threads, errors, got = 8, [], {}
    start = threading.Barrier(threads + 1)

    def searcher(k: int) -> None:
        try:
            start.wait()
            for q in queries[k::threads] * 3:
                got[q] = [h.paper_id for h in service.search(q, limit=5)]
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    def indexer() -> None:
        try:
            start.wait()
            for _ in range(10):
                service.embedder.embed(abstracts * 4)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=searcher, args=(k,)) for k in range(threads)]
    workers.append(threading.Thread(target=indexer))
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert got == expected


def test_snippet_marks_terms_and_escapes_html(env) -> None:
    service, _ = env
    hit = service.search("script markup", limit=1).hits[0]
    assert hit.paper_id == "2501.00001"
    html = hit.snippet_html
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;<mark>script</mark>&gt;" in html
    assert "&amp;" in html
    assert "<mark>markup</mark>" in html


def test_a_ranked_and_a_cached_answer_attach_the_same_papers_and_snippets(env) -> None:
    """Ranking a query reads its top papers and matches their abstracts (coverage stage);
    the same call attaches those. A cached ranking reads and matches them again: same hits."""
    service, _ = env
    for query in ["regret upper bound bandits", "script markup", "diffusion models video"]:
        service.cache.clear()
        ranked = service.search(query, limit=10)
        cached = service.search(query, limit=10)
        assert ranked.hits == cached.hits and ranked.hits
        for h in ranked:
            assert h.paper is not None
            assert h.snippet == tuple(spans(h.paper.paper.abstract, ranked.terms))
        assert any(p.matched for h in ranked for p in h.snippet)


def test_snippet_window_and_stemming() -> None:
    text = "Intro words. " * 40 + "Training deep networks is hard. " + "Tail words. " * 40
    parts = spans(text, parse_query("network train").all_terms, width=120)
    marked = [p.text for p in parts if p.matched]
    assert marked == ["Training", "networks"]
    assert parts[0].text == "… " and parts[-1].text == " …"
    assert to_html(spans("a < b", set())) == "a &lt; b"


def test_float32_matrix_is_cached_and_follows_writes(tmp_path) -> None:
    """The exact scan's float32 copy is made once, and redone when any writer changes rows."""
    import numpy as np

    from paperfeed.search.vectors import VectorStore

    dim = 8
    reader, writer = VectorStore(tmp_path, dim), VectorStore(tmp_path, dim)
    eye = np.eye(dim, dtype=np.float32)
    reader.write([0, 1], eye[:2])
    first = reader.matrix32()
    assert first.dtype == np.float32 and first.shape == (2, dim)
    assert reader.matrix32() is first  # cached: no conversion per query
    writer.write([2], eye[2:3])  # another writer grows the file
    grown = reader.matrix32()
    assert grown.shape == (3, dim) and grown[2, 2] == 1.0
    time.sleep(0.05)  # file mtimes tick at kernel-timer granularity (a few ms)
    writer.write([0], eye[5:6])  # ... or rewrites a row in place (same size)
    assert reader.matrix32()[0, 5] == 1.0 and reader.matrix32()[0, 0] == 0.0
    reader.write([1], eye[7:8])  # and its own writes
    assert reader.matrix32()[1, 7] == 1.0
