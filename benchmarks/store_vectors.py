"""Export a product transformer store to the vector directory `relevance_eval.py` reads.

Run: python benchmarks/store_vectors.py DATA_DIR OUT_DIR [--check 16] [--embedder onnx:DIR:128]

DATA_DIR is a paperfeed data directory whose transformer backfill has run (for example the
one `backfill.py --keep` leaves): rows are `index/rows.txt` (`RowMap`), vectors
`index/transformer/vectors.f16` (float16 unit vectors by row), `index/transformer/done.u8`
(1 = embedded). It is only read (memory-mapped read-only; no product class that may write is
opened). OUT_DIR gets `ids.txt` (one arXiv id a line) and `vecs-NNNNNNN.npy` (float32, 1,024
rows each) for the embedded rows, in row order: the `eval_vectors.py` format. When every paper
of the corpus is there, `relevance_eval.py` ranks "meaning" among all of them (exact, no
whole-corpus estimate); it needs no `order.txt` then.

`--check N` re-embeds N rows drawn at random (seed 0) with `--embedder` (what relevance_eval
embeds queries with) and prints each cosine with the stored vector: the float16 store and a
fresh embedding of the same text should agree to ~1 (int8 dynamic quantization lets batch
mates move a vector a little).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import load_corpus  # noqa: E402
from eval_vectors import CHUNK  # noqa: E402
from relevance import make_embedder  # noqa: E402

from paperfeed.search.embed import paper_text  # noqa: E402

DONE = 1


def read_store(data_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """(row ids, vectors float16 memmap, done bytes, transformer state), read-only."""
    index = data_dir / "index"
    tdir = index / "transformer"
    ids = (index / "rows.txt").read_text(encoding="utf-8").splitlines()
    state = json.loads((tdir / "state.json").read_text())
    dim = int(state["dim"])
    n_vec = (tdir / "vectors.f16").stat().st_size // (2 * dim)
    vecs = np.memmap(tdir / "vectors.f16", dtype=np.float16, mode="r", shape=(n_vec, dim))
    done = np.fromfile(tdir / "done.u8", dtype=np.uint8)
    return ids, vecs, done, state


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--check", type=int, default=16, help="rows to re-embed and compare")
    ap.add_argument("--embedder", default="onnx:src/paperfeed/search/model/minilm:128")
    args = ap.parse_args()
    ids, vecs, done, state = read_store(args.data_dir)
    n = min(len(ids), len(vecs), len(done))
    rows = np.flatnonzero(done[:n] == DONE)
    print(
        f"{args.data_dir}: model {state['model']}, {len(ids)} rows, {len(rows)} embedded, "
        f"{int((done[:n] == 0).sum())} to embed, {int((done[:n] == 2).sum())} gone",
        flush=True,
    )
    if (args.out / "ids.txt").exists():
        raise SystemExit(f"{args.out} already holds vectors: remove it first")
    args.out.mkdir(parents=True, exist_ok=True)
    norms = []
    with (args.out / "ids.txt").open("w", encoding="utf-8") as fh:
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            block = np.asarray(vecs[part], dtype=np.float32)
            norms.append(np.linalg.norm(block, axis=1))
            np.save(args.out / f"vecs-{start:07d}.npy", block)
            fh.write("".join(ids[r] + "\n" for r in part))
    norm = np.concatenate(norms) if norms else np.zeros(0)
    print(
        f"wrote {len(rows)} vectors to {args.out}; norms min {norm.min():.4f} max {norm.max():.4f}",
        flush=True,
    )
    if not args.check:
        return
    docs = {d.arxiv_id: d for d in load_corpus()}
    missing = [i for i in (ids[r] for r in rows) if i not in docs]
    print(f"corpus {len(docs)} papers; {len(missing)} stored ids not in it", flush=True)
    emb = make_embedder(args.embedder)
    pick = sorted(random.Random(0).sample(list(rows), min(args.check, len(rows))))
    fresh = emb.embed([paper_text(docs[ids[r]].title, docs[ids[r]].abstract) for r in pick])
    cos = [
        float(np.asarray(vecs[r], dtype=np.float32) @ f) for r, f in zip(pick, fresh, strict=True)
    ]
    for r, c in zip(pick, cos, strict=True):
        print(f"  row {r} {ids[r]}: cosine(stored, fresh {emb.name}) = {c:.4f}")
    print(f"cosine min {min(cos):.4f}, mean {np.mean(cos):.4f}")


if __name__ == "__main__":
    main()
