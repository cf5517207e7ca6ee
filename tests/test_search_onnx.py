"""The ONNX transformer embedder (bundled all-MiniLM-L6-v2, int8) through the public search API.

Real model, real ONNX Runtime, real papers: no stand-ins. The transformer is off for the rest
of the suite (conftest.py pins PAPERFEED_EMBEDDER=static); these tests name the ONNX embedder.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from search_helpers import WEB_PAPERS, make_env

from paperfeed.errors import BadRequest
from paperfeed.search import SearchService
from paperfeed.search.embed import OnnxEmbedder, make_embedder, onnx_available
from paperfeed.search.fusion import TRANSFORMER_FUSION
from paperfeed.search.keyword import analyze
from paperfeed.settings import load_settings

pytestmark = pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")

# A paper of tests/fixtures/web_papers.jsonl, described without any of its words.
TARGET = "2608.16793"  # "PixRestore: Unified Image Restoration via Pixel Diffusion Transformer"
PARAPHRASE = "a network that repairs blurry, noisy or rainy photos"


@pytest.fixture(scope="module")
def onnx_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchService]:
    data_dir = tmp_path_factory.mktemp("onnx-search")
    settings, store = make_env(data_dir, WEB_PAPERS)
    settings = load_settings(data_dir=data_dir, transformer="onnx")
    service = SearchService(store, settings, background=False)
    service.sync_transformer()  # the whole backfill (the worker's job in `serve`)
    yield service
    service.close()
    store.close()


def test_onnx_embedder_is_a_real_sentence_model() -> None:
    emb = OnnxEmbedder()
    vecs = emb.embed(
        [
            "a kitten is sleeping on the sofa",
            "a young cat naps on the couch",
            "interest rates rise as the central bank fights inflation",
        ]
    )
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > 0.6 > vecs[0] @ vecs[2] + 0.3
    # int8 dynamic quantization scales activations per batch, so batch mates move a
    # vector a little, never far; the order of the output follows the input
    again = emb.embed(["interest rates rise as the central bank fights inflation", "x"])
    assert float(again[0] @ vecs[2]) > 0.99
    assert float(again[1] @ vecs[2]) < 0.5
    assert emb.embed([]).shape == (0, 384)


def test_transformer_vectors_alone_give_a_hybrid_search(tmp_path: Path) -> None:
    """A complete transformer index is searched even while no paper has a static vector
    (a large catalogue whose static index the worker has not built yet, or is rebuilding)."""
    settings, store = make_env(tmp_path, WEB_PAPERS)
    settings = load_settings(data_dir=tmp_path, transformer="onnx")
    service = SearchService(store, settings, background=False, repair=False)
    try:
        service.sync_keyword()
        service.sync_transformer()  # no sync_vectors(): no static vectors at all
        status = service.status()
        assert status.vectors == 0 and status.transformer is not None
        assert status.transformer.done == status.transformer.total > 0
        results = service.search(PARAPHRASE, limit=5)
        assert results.mode in ("hybrid", "meaning")
        assert TARGET in results.ids and max(h.dense for h in results.hits) > 0
    finally:
        service.close()
        store.close()


def test_batches_run_side_by_side_give_the_vectors_of_one_thread() -> None:
    texts = [f"paper {i}: {'sparse attention for long inputs ' * (i % 7 + 1)}" for i in range(70)]
    texts += ["a kitten is sleeping on the sofa", "interest rates rise"]
    single = OnnxEmbedder(threads=1)
    one = single.embed(texts)
    three = OnnxEmbedder(threads=3).embed(texts)  # batches of 32, 32 and 8 side by side
    assert one.shape == three.shape == (72, 384)
    # the same batches, so the same per-batch quantization: equal up to float summation order
    assert np.abs(one - three).max() < 1e-5
    assert float(three[70] @ three[71]) < 0.5 < float(three[0] @ three[7])
    # a call of one batch (a query) runs on a session of its own with the operators split
    # over the threads: the same vectors as one thread gives
    two = OnnxEmbedder(threads=2)
    for i in (0, 7, 70, 71):
        assert np.abs(two.embed([texts[i]])[0] - single.embed([texts[i]])[0]).max() < 1e-5
    assert two._one_batch is not None  # the query session served them
    one_batch = single.embed(texts[:20])  # one batch of 20 texts
    assert np.abs(two.embed(texts[:20]) - one_batch).max() < 1e-5


def test_search_by_meaning_with_the_onnx_embedder(onnx_env: SearchService) -> None:
    service = onnx_env
    status = service.status()
    assert status.transformer is not None and status.transformer.model.startswith("onnx:minilm")
    assert status.vectors == status.papers_indexed == status.transformer.done == 90
    target = service.store.get_paper(TARGET)
    assert target is not None
    shared = set(analyze(PARAPHRASE)) & set(
        analyze(f"{target.paper.title} {target.paper.abstract}")
    )
    assert not shared  # only meaning can find it
    ids = [h.paper_id for h in service.search(PARAPHRASE, limit=5)]
    assert TARGET in ids


def test_meaning_beats_weak_keyword_matches(onnx_env: SearchService) -> None:
    """The paraphrase shares only common words ("network", "photos") with some papers and
    none with the target: the target, found by meaning alone, must rank above every paper
    that only matches such words (with keyword and cosine summed unscaled, as before the
    `min_cover` rule of paperfeed.search.fusion, it ranked 4th, below two of them; below
    `min_cover` the keyword part is now scaled by the cover, `soft`)."""
    service = onnx_env
    service.cache.clear()
    results = service.search(PARAPHRASE, limit=40)  # all candidates of the 90 papers
    ids = [h.paper_id for h in results.hits]
    terms = set(analyze(PARAPHRASE))
    weak = []
    for pid in ids:
        found = service.store.get_paper(pid)
        assert found is not None
        if terms & set(analyze(f"{found.paper.title} {found.paper.abstract}")):
            weak.append(pid)
    assert results.mode == "hybrid" and weak  # there are keyword matches to beat
    assert TARGET in ids[:3]
    assert all(ids.index(TARGET) < ids.index(pid) for pid in weak)


def test_keyword_matches_still_lead_with_the_onnx_embedder(onnx_env: SearchService) -> None:
    results = onnx_env.search("Unified Image Restoration via Pixel Diffusion Transformer", limit=3)
    assert results.mode == "hybrid"
    assert results.hits[0].paper_id == TARGET


def test_coverage_re_ranks_only_while_keyword_evidence_is_trusted(onnx_env: SearchService) -> None:
    """The second stage (a bonus for covering the query's terms) runs on the fused top 20 of
    a query that names its paper; a query in other words gets none, and its keyword part is
    scaled by how little of the query the best hit covers (paperfeed.search.fusion)."""
    service = onnx_env
    service.cache.clear()
    w = TRANSFORMER_FUSION.weight
    named = service.search("Unified Image Restoration via Pixel Diffusion Transformer", limit=20)
    assert named.hits[0].paper_id == TARGET
    bonus = [h.score - (h.keyword + w * h.dense) for h in named.hits]
    assert bonus[0] > 0 and min(bonus) >= -1e-9  # the target holds every term: a bonus
    para = service.search(PARAPHRASE, limit=20)
    # the best hit covers less than min_cover of the query: keyword evidence is dropped
    # (the transformer's gate is not soft), meaning alone ranks; and no coverage bonus
    assert not TRANSFORMER_FUSION.soft
    assert max(h.keyword for h in para.hits) == 0
    assert [h.score for h in para.hits] == pytest.approx(
        [h.keyword + w * h.dense for h in para.hits]
    )


def test_auto_picks_onnx_where_onnxruntime_is_installed() -> None:
    assert make_embedder("auto").name.startswith("onnx:")
    assert make_embedder("transformer").name.startswith("onnx:")
    assert make_embedder("static").name.startswith("static:")
    with pytest.raises(BadRequest):
        make_embedder("bert-large")


def test_onnxruntime_loads_after_usearch(tmp_path: Path) -> None:
    """usearch first, onnxruntime second, in a fresh interpreter: crashed with SIGSEGV
    before paperfeed.search.native (see its docstring)."""
    script = textwrap.dedent(
        """
        import numpy as np
        from paperfeed.search.vectors import VectorStore  # imports usearch
        import onnxruntime
        from paperfeed.search.embed import OnnxEmbedder
        from paperfeed.search.native import Index
        v = OnnxEmbedder().embed(["hello world"])[0]
        index = Index(ndim=384, metric="cos")
        index.add(7, v)
        print("found", index.search(v, 1).keys[0])
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert run.stdout.strip() == "found 7"
