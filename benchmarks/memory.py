"""Memory of a serving process with every index loaded, on the whole shared corpus (218k).

    python benchmarks/memory.py [--data-dir DIR] [--requests 300]

1. Builds a data directory once: every file of `../shared/data` imported (`paperfeed ingest`)
   and its keyword index.
2. Fills both vector stores (static, and the transformer's, `search/backfill.py`) for every
   paper through the real indexing code (`Indexer.sync_vectors`, `Indexer.sync_transformer`:
   vector files, ANN indexes, done flags, state) with an embedder that returns random unit
   vectors under the real model's name and size (256 and 384): embedding 218k abstracts
   takes minutes (static) to an hour (MiniLM) of both cores, and memory does not depend on
   what the vectors say. Stated as such in RESULTS.
3. Starts the app (`uvicorn --factory paperfeed.web.app:create_app`, 1 process, the real ONNX
   transformer for queries), checks `paperfeed index` reports nothing pending, sends
   `--requests` requests (distinct searches, paper pages, home pages: every index is read)
   and prints the serving process's VmRSS and VmHWM (peak) in MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from load import Target, free_port, start_server, stop_server  # noqa: E402

DATA = Path("/work/shared/data")


class RandomUnitEmbedder:
    """Random unit vectors named as the real transformer: fills the store for a memory
    measurement only (search results from these vectors mean nothing)."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim
        self.rng = np.random.default_rng(0)

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def build(data_dir: Path) -> None:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_TRANSFORMER": "off"}
    ready = data_dir / ".memory-store-ready"
    if not ready.exists():
        files = sorted(str(p) for p in DATA.glob("*.jsonl.gz"))
        cli = [sys.executable, "-m", "paperfeed"]
        subprocess.run([*cli, "ingest", "--no-index", *files], env=env, check=True)
        ready.write_text("")
    done = data_dir / ".memory-indexes-ready"
    if not done.exists():
        fill_indexes(data_dir)
        done.write_text("")


def fill_indexes(data_dir: Path) -> None:
    """Keyword index for real; both vector stores through the real indexing code, with
    random unit vectors under the real models' names and sizes."""
    from paperfeed.search import SearchService
    from paperfeed.search.embed import make_embedder, make_transformer
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    settings = load_settings(data_dir=data_dir, transformer="onnx")
    static, real = make_embedder("static"), make_transformer("onnx")
    assert real is not None
    store = open_store(settings)
    fake_static = RandomUnitEmbedder(static.name, static.dim)
    service = SearchService(store, settings, embedder=fake_static, background=False, repair=False)  # type: ignore[arg-type]
    try:
        ix = service.indexer
        t0 = time.monotonic()
        print(f"keyword index: {ix.sync_keyword()} papers in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        print(f"static vectors: {ix.sync_vectors()} (random) in {time.monotonic() - t0:.0f} s")
        ix._transformer = RandomUnitEmbedder(real.name, real.dim)  # type: ignore[assignment]
        t0 = time.monotonic()
        n = ix.sync_transformer()
        print(f"transformer vectors: {n} (random) in {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        service.close()
        store.close()


def rss_mib(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert rss and hwm
    return int(rss.group(1)) // 1024, int(hwm.group(1)) // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "pf-memory")
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    build(args.data_dir)
    os.environ["PAPERFEED_TRANSFORMER"] = "onnx"
    target = Target("this", None, args.data_dir)
    status = subprocess.run(
        [sys.executable, "-m", "paperfeed", "index", "--json"],
        env=target.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print("index status:", json.dumps(json.loads(status)))
    port = free_port()
    proc = start_server(target, port, 1)
    try:
        out = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True)
        pid = max((int(p) for p in out.stdout.split()), key=lambda p: rss_mib(p)[0])
        after_start = rss_mib(pid)
        base = f"http://127.0.0.1:{port}"
        rng = random.Random(5)
        with httpx.Client(base_url=base, timeout=120) as client:
            papers = client.get("/api/papers", params={"limit": 100}).json()
            words = sorted(
                {w.lower() for p in papers for w in re.findall(r"[A-Za-z]{5,}", p["title"])}
            )
            for i in range(args.requests):
                kind = i % 3
                if kind == 0:
                    path = f"/search?q={'+'.join(rng.sample(words, 2))}"
                elif kind == 1:
                    path = f"/papers/{rng.choice(papers)['id']}"
                else:
                    path = "/"
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code)
        rss, hwm = rss_mib(pid)
    finally:
        stop_server(proc)
    print(
        f"serving process: RSS {after_start[0]} MiB after start-up, {rss} MiB after "
        f"{args.requests} requests, peak (VmHWM) {hwm} MiB; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
