"""Digest send throughput: N confirmed subscribers against a local SMTP sink.

    python benchmarks/digest_send.py --subscribers 100000 \
        --data ../shared/data/hf_daily_papers_2404589803_2024-2026.jsonl.gz

The sink is aiosmtpd in a separate process (accepts and counts every message). The baseline,
in the same run against the same sink, is plain smtplib sending one pre-built message over one
reused connection: the ceiling of this SMTP server and client pair. The digest job does much
more per message (compose from the store, render, sign links, build MIME, two outbox commits,
two-phase DATA), so the ratio shows what that costs. 10% of the subscribers also have a saved
search (from a pool of 40 queries), weekly for 20% of them.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

QUERIES = [
    "diffusion models",
    "large language model reasoning",
    "reinforcement learning from human feedback",
    "vision language models",
    "video generation",
    "mixture of experts",
    "speculative decoding",
    "retrieval augmented generation",
    "agents tool use",
    "3d gaussian splatting",
    "text to speech",
    "code generation benchmark",
    "long context",
    "quantization",
    "state space models",
    "robot manipulation",
    "image editing",
    "multimodal benchmark",
    "chain of thought",
    "preference optimization",
    "world models",
    "reward models",
    "math reasoning",
    "kv cache",
    "embodied ai",
    "medical imaging",
    "protein",
    "hallucination",
    "instruction tuning",
    "scaling laws",
    "attention efficiency",
    "graph neural networks",
    "federated learning",
    "autonomous driving",
    "music generation",
    "safety alignment",
    "distillation",
    "tokenizer",
    "in-context learning",
    "evaluation of llm judges",
]


def _fast_sink(port: int, count, ready) -> None:  # noqa: ANN001
    """A minimal SMTP server (asyncio Protocol): answers each command, counts each message.

    aiosmtpd reads DATA line by line through coroutines and tops out near 200 msg/s on this
    machine, below what is being measured; this sink scans for the terminating dot instead.
    """
    import asyncio

    class Session(asyncio.Protocol):
        def connection_made(self, transport):  # noqa: ANN001, ANN201
            self.t, self.buf, self.in_data = transport, b"", False
            transport.write(b"220 sink ESMTP\r\n")

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                if self.in_data:
                    end = self.buf.find(b"\r\n.\r\n")
                    if end < 0:
                        return
                    self.buf = self.buf[end + 5 :]
                    self.in_data = False
                    with count.get_lock():
                        count.value += 1
                    self.t.write(b"250 OK queued\r\n")
                    continue
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                line, self.buf = self.buf[:end], self.buf[end + 2 :]
                verb = line[:4].upper()
                if verb == b"EHLO":
                    self.t.write(b"250-sink\r\n250-8BITMIME\r\n250 PIPELINING\r\n")
                elif verb == b"DATA":
                    self.in_data = True
                    self.buf = b"\r\n" + self.buf  # so a message ending at once still matches
                    self.t.write(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    self.t.write(b"221 bye\r\n")
                    self.t.close()
                    return
                else:
                    self.t.write(b"250 OK\r\n")

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Session, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def _aiosmtpd_sink(port: int, count, ready) -> None:  # noqa: ANN001
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) of this process (every thread), or of process `pid`."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_profiles(folder: Path, pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """py-spy (raw collapsed stacks, 100 Hz, idle frames left out) on each named process."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--format",
                "raw",
                "--rate",
                "100",
                "--nonblocking",
                "-o",
                str(folder / f"{name}.txt"),
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def baseline(port: int, n: int) -> float:
    """messages/s of raw smtplib sending one fixed message over one connection."""
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "baseline"
    msg.set_content(("lorem ipsum dolor sit amet " * 3 + "\n") * 75)
    data = msg.as_bytes()
    conn = smtplib.SMTP("127.0.0.1", port)
    start = time.perf_counter()
    for _ in range(n):
        conn.sendmail("a@example.org", ["b@example.org"], data)
    elapsed = time.perf_counter() - start
    conn.quit()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--data", required=True, help="Papers to ingest (JSONL.gz, HF JSON).")
    parser.add_argument("--baseline-messages", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--sink", choices=("fast", "aiosmtpd"), default="fast")
    parser.add_argument(
        "--connections", type=int, default=None, help="PAPERFEED_SMTP_CONNECTIONS (default: 4)"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the job and the sink into this folder"
    )
    args = parser.parse_args()

    from paperfeed.digest.send import send_digests
    from paperfeed.ingest import ingest_sources
    from paperfeed.search import open_search, sync_keyword_index
    from paperfeed.settings import load_settings
    from paperfeed.store.sqlite import SqliteStore

    work = args.workdir or Path(tempfile.mkdtemp(prefix="pf-digest-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    port = free_port()
    count, ready = mp.Value("q", 0), mp.Event()
    target = _fast_sink if args.sink == "fast" else _aiosmtpd_sink
    sink = mp.Process(target=target, args=(port, count, ready), daemon=True)
    sink.start()
    ready.wait(30)
    settings = load_settings(
        data_dir=work,
        secret_key="bench-secret",
        smtp_url=f"smtp://127.0.0.1:{port}",
        base_url="https://papers.example.org",
        **({"smtp_connections": args.connections} if args.connections else {}),
    )
    store = SqliteStore(settings.sqlite_path)
    t0 = time.perf_counter()
    ingest_sources(store, [args.data])
    sync_keyword_index(store, settings)
    open_search(settings, store, background=False).close()  # vectors built once, as in service
    print(f"setup: ingested {store.stats().papers} papers in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    for i in range(args.subscribers):
        sub, _ = store.add_subscriber(
            email=f"reader{i:06d}@example.org",
            frequency="weekly" if i % 5 == 0 else "daily",
            confirmed_at=now,
        )
        if i % 10 == 0:
            store.add_saved_search(subscriber_id=sub.id, query=QUERIES[i % len(QUERIES)])
    print(f"setup: {args.subscribers} confirmed subscribers in {time.perf_counter() - t0:.1f} s")

    base = baseline(port, args.baseline_messages)
    connections = getattr(settings, "smtp_connections", 1)  # 1 before the setting existed
    print(f"sink: {args.sink}; SMTP connections of the digest job: {connections}")
    print(f"load average before the send: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"baseline: raw smtplib, fixed 6 KB message, one connection: {base:.0f} msg/s")
    before = count.value
    profilers = (
        start_profiles(args.profile, {"job": os.getpid(), "sink": sink.pid or 0})
        if args.profile
        else []
    )
    cpu_job, cpu_sink = process_cpu(), process_cpu(sink.pid)
    report = send_digests(settings, store, progress=False, retry_delays=())
    cpu_job, cpu_sink = process_cpu() - cpu_job, process_cpu(sink.pid) - cpu_sink
    for p in profilers:
        p.send_signal(2)  # SIGINT: py-spy writes its file and exits
        p.wait(60)
    received = count.value - before
    rate = report.sent / report.seconds
    print(report.summary().splitlines()[0])
    print(
        f"digest: {report.sent} sent, {report.skipped_empty} empty, {len(report.failed)} failed, "
        f"{received} received by the sink, in {report.seconds:.1f} s = {rate:.0f} msg/s"
    )
    print(f"ratio digest/baseline: {rate / base:.3f}")
    per = max(report.sent, 1)
    print(
        f"CPU per message: job {1000 * cpu_job / per:.2f} ms, sink {1000 * cpu_sink / per:.2f} ms "
        f"(job {cpu_job:.1f} CPU s, sink {cpu_sink:.1f} CPU s); with a core each, the busier "
        f"one allows {per / max(cpu_job, cpu_sink):.0f} msg/s"
    )
    print(f"100k projection: {100_000 / rate / 60:.1f} min (target <= 2 min)")
    print(f"load average after the send: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    store.close()
    sink.terminate()
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
