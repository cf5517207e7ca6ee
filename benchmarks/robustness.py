"""Robustness: bad inputs on every interface (5xx seen, target 0) and kill -9 at several
points of an import and of a digest run (papers and emails lost, target 0).

    nice python benchmarks/robustness.py [--schemathesis-examples 6] [--kills 4] [--budget-s 1500]

Everything runs on 127.0.0.1 over temporary data directories: a real uvicorn server, the
real `paperfeed` CLI in subprocesses, a real SMTP server (aiosmtpd). Prints one table per
part, in Markdown, for benchmarks/RESULTS.md.

Bounded: every HTTP request has a timeout (a timeout is counted, apart from 5xx), every
subprocess has one, and the whole run has a time budget (`--budget-s`): a part that would
start after it is spent is reported as skipped, so the script always finishes. Subscribers
of the digest part are added in this process (one store, not 120 CLI starts).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE = FIXTURES / "arxiv_cs_daily_sample_3000.jsonl.gz"
WEB = FIXTURES / "web_papers.jsonl"
PAPERFEED = [sys.executable, "-m", "paperfeed"]
SECRET = {"PAPERFEED_SECRET_KEY": "robustness-benchmark-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*PAPERFEED, "--data-dir", str(data), "serve", "--port", "0", "--no-sample"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = ""
    while "serving on" not in line:
        line = proc.stdout.readline()
        assert line, "serve exited"
    url = re.search(r"serving on (http://\S+?)/ ", line)
    assert url, "serve did not start"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url[1] + "/healthz").status_code == 200:
                return proc, url[1]
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("serve did not answer")


# --- 1. bad inputs over HTTP -------------------------------------------------------------

BAD_TEXT = ["%00", "%EF%BF%BF", "%01x", "a" * 300, "%F0%9F%92%A9", "%C0%AF", "'\"><script>", "\\"]
BAD_DATES = ["9999-12-31", "0001-01-01", "2024-02-30", "2024-13-01", "x", "99999-01-01", ""]
BAD_WEEKS = ["9999-W52", "2024-W54", "2024-W00", "W1", "0001-W01"]
BAD_INTS = ["-1", "0", "101", "99999999999999999999", "1e3", "x", "nan"]
BAD_IDS = ["2501.19393v2", "2501.19393v0", "..%2F..%2Fetc%2Fpasswd", "%00", "x" * 500, "1/2/3"]
BAD_BODIES = [
    b"{bad",
    b"[]",
    b"null",
    b'"x"',
    b"{}",
    b'{"query":""}',
    b'{"query":"x","filters":[]}',
    b'{"query":"x","filters":{"a":1}}',
    b'{"query":"a\\u0000b"}',
    b'{"content":123}',
    b'{"arxivId":null}',
    b'{"email":{"a":1}}',
    b"\xff\xfe",
    b'{"action":"explode"}',
]


def http_inputs(base: str, token: str) -> list[tuple[str, str, str, bytes | None]]:
    """(interface, method, path, body) for every bad input tried."""
    tried: list[tuple[str, str, str, bytes | None]] = []
    for t in BAD_TEXT:
        for path in (
            "/feeds/search.xml?q=",
            "/feeds/search.atom?q=",
            "/api/papers/search?q=",
            "/search?q=",
            "/search?q=x&category=",
        ):
            tried.append(("feeds/search" if "feeds" in path else "search", "GET", path + t, None))
    for d in BAD_DATES:
        for path in (
            "/?date=",
            "/?view=week&date=",
            "/?view=month&date=",
            "/api/daily_papers?date=",
            "/feeds/daily.xml?date=",
            "/search?q=x&since=",
            "/search?q=x&until=",
        ):
            tried.append(("daily/search dates", "GET", path + d, None))
    for w in BAD_WEEKS:
        tried.append(("daily/search dates", "GET", "/api/daily_papers?week=" + w, None))
        tried.append(("daily/search dates", "GET", "/api/daily_papers?month=" + w[:7], None))
    for n in BAD_INTS:
        for path in (
            "/api/daily_papers?limit=",
            "/api/daily_papers?p=",
            "/api/trending?limit=",
            "/api/papers?limit=",
            "/?p=",
            "/search?q=x&p=",
        ):
            tried.append(("integer params", "GET", path + n, None))
    for i in BAD_IDS:
        for path in (
            "/api/papers/{}",
            "/papers/{}",
            "/papers/{}.md",
            "/api/papers/{}/bibtex",
            "/api/papers/{}/comments",
        ):
            tried.append(("paper ids", "GET", path.format(i), None))
    for body in BAD_BODIES:
        for path in (
            "/api/saved-searches",
            "/api/subscriptions",
            "/api/papers/index",
            "/api/session",
            "/api/papers/2608.17253/comments",
            "/api/papers/2608.17253/curate",
        ):
            tried.append(("JSON bodies", "POST", path, body))
    return tried


REQUEST_TIMEOUT_S = 20.0


def bad_http_inputs(base: str, token: str) -> Counter[tuple[str, str]]:
    results: Counter[tuple[str, str]] = Counter()
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        for interface, method, path, body in http_inputs(base, token):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            results[(interface, "tried")] += 1
            try:
                r = client.request(method, path, content=body, headers=headers if body else None)
            except httpx.TimeoutException:
                results[(interface, "timeout")] += 1
                print(f"  timeout: {method} {path} {body!r}", file=sys.stderr)
                continue
            if r.status_code >= 500:
                results[(interface, "5xx")] += 1
                print(f"  5xx: {r.status_code} {method} {path} {body!r}", file=sys.stderr)
    return results


def schemathesis_run(
    base: str, token: str, examples: int, workdir: Path, timeout_s: float
) -> tuple[int, int] | None:
    """(cases generated, server errors) of schemathesis over /openapi.json; None if it ran
    past `timeout_s`."""
    exe = Path(sys.executable).with_name("schemathesis")
    try:
        done = run_schemathesis(exe, base, token, examples, workdir, timeout_s)
    except subprocess.TimeoutExpired:
        return None
    out = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", out)
    failures = 0 if "No issues found" in out else len(re.findall(r"Server error", out)) or 1
    return int(generated[1]) if generated else 0, failures


def run_schemathesis(
    exe: Path, base: str, token: str, examples: int, workdir: Path, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(exe),
            "run",
            f"{base}/openapi.json",
            "--checks=not_a_server_error",
            "--phases=coverage,fuzzing",
            f"--max-examples={examples}",
            "--seed=20250101",
            "--workers=1",
            "--suppress-health-check=all",
            "--warnings=off",
            f"--header=Authorization: Bearer {token}",
            "--exclude-path=/api/session",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "NO_COLOR": "1"},
    )


def bearer(base: str) -> str:
    with httpx.Client(base_url=base, timeout=60) as c:
        page = c.get("/signup")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        c.post(
            "/signup",
            data={
                "csrf_token": csrf[1],
                "email": "fuzz@example.org",
                "password": "correct horse battery",
            },
        )
        r = c.post(
            "/api/session", json={"email": "fuzz@example.org", "password": "correct horse battery"}
        )
        return str(r.json()["token"])


# --- 2. bad input files through the CLI ---------------------------------------------------


def bad_files(folder: Path) -> list[Path]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        good = f.readlines()[:20]
    rows = [json.loads(x) for x in good]
    wrong = [
        ("title", ["x"]),
        ("comment", 5),
        ("doi", {}),
        ("categories", "cs.LG"),
        ("authors", [7]),
        ("version", "two"),
        ("upvotes", "many"),
        ("published", 1),
        ("github_url", {"a": 1}),
        ("project_page", "javascript:alert(1)"),
        ("primary_category", {"a": 1}),
        ("num_comments", -1),
        ("submitted_by", [1]),
    ]
    files = {
        "types.jsonl": "".join(
            json.dumps({**r, field: value, "daily_date": "2026-02-02"}) + "\n"
            for r, (field, value) in zip(rows, wrong, strict=False)
        ),
        "truncated.jsonl": "".join(good[:5]) + good[5][:40],
        "empty.jsonl": "",
        "garbage.bin": os.urandom(4096).hex(),
        "not-json.json": "[{",
        "xml-cut.xml": (FIXTURES / "arxiv_api_query_all-science_2019-08-10.xml").read_text()[:3000],
        "hf-wrong.json": json.dumps([{"paper": {"id": 5}}, {"paper": []}, 7, None]),
    }
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    corrupt = folder / "corrupt.jsonl.gz"
    corrupt.write_bytes(gzip.compress("".join(good).encode())[:-30])
    return [*paths, corrupt]


def cli_inputs(folder: Path, env: dict[str, str]) -> tuple[int, int]:
    """(runs, runs ending in a traceback) of `paperfeed ingest` over bad files."""
    runs = tracebacks = 0
    data = folder / "cli-data"
    for path in bad_files(folder):
        done = subprocess.run(
            [*PAPERFEED, "--data-dir", str(data), "ingest", str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        runs += 1
        if "Traceback" in done.stderr:
            tracebacks += 1
            print(f"  traceback: ingest {path.name}\n{done.stderr[-800:]}", file=sys.stderr)
    return runs, tracebacks


# --- 3. kill -9 during an import ----------------------------------------------------------


def papers_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
    except sqlite3.Error:
        return 0


def kill_ingest(folder: Path, kills: int, env: dict[str, str]) -> list[tuple[str, int]]:
    """Kill `ingest` at `kills` points, rerun it; papers missing afterwards at each point."""
    source = folder / "big.jsonl"
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        source.write_text(f.read(), encoding="utf-8")
    expected = len({json.loads(x)["arxiv_id"] for x in source.read_text().splitlines()})
    results = []
    for k in range(kills):
        data = folder / f"kill-ingest-{k}"
        db = data / "paperfeed.sqlite3"
        cmd = [*PAPERFEED, "--data-dir", str(data), "ingest", str(source), "--batch-size", "100"]
        target = expected * (k + 1) // (kills + 1)  # kill once this many are committed
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = 0
        while proc.poll() is None:
            seen = papers_in(db)
            if seen >= target:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait()
        point = f"after {seen} of {expected} papers committed" + (
            "" if proc.returncode == -signal.SIGKILL else " (finished before the kill)"
        )
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if rerun.returncode != 0:
            print(f"  rerun after the kill failed:\n{rerun.stderr[-1500:]}", file=sys.stderr)
            point += f" (rerun exit {rerun.returncode})"
        results.append((point, expected - papers_in(db)))
    return results


# --- 4. kill -9 during a digest run -------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        import asyncio

        await asyncio.sleep(0.01)
        with self.lock:
            self.received.extend(envelope.rcpt_tos)
        return "250 OK"


def add_subscribers(data: Path, emails: list[str]) -> None:
    """Confirmed subscribers, as `paperfeed subscribers add --confirmed` adds them."""
    from paperfeed.digest.subscriptions import add_subscriber_confirmed
    from paperfeed.settings import load_settings
    from paperfeed.store import open_store

    store = open_store(load_settings(data_dir=data, secret_key=SECRET["PAPERFEED_SECRET_KEY"]))
    try:
        for email in emails:
            add_subscriber_confirmed(store, email=email, confirmed=True)
    finally:
        store.close()


def kill_digest(folder: Path, kills: int, env: dict[str, str]) -> list[tuple[str, int, int]]:
    """Kill `digest send` at `kills` points, rerun; (point, emails lost, duplicates)."""
    from aiosmtpd.controller import Controller

    results = []
    readers = [f"reader{i:03d}@example.org" for i in range(120)]
    for k in range(kills):
        sink = Sink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            data = folder / f"kill-digest-{k}"
            run_env = {**env, "PAPERFEED_SMTP_URL": f"smtp://127.0.0.1:{port}"}
            base = [*PAPERFEED, "--data-dir", str(data)]
            subprocess.run(
                [*base, "ingest", str(WEB)],
                env=run_env,
                capture_output=True,
                check=True,
                timeout=300,
            )
            add_subscribers(data, readers)
            target = len(readers) * (k + 1) // (kills + 1)
            proc = subprocess.Popen(
                [*base, "digest", "send"],
                env=run_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while proc.poll() is None and len(sink.received) < target:
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            at = len(sink.received)
            rerun = subprocess.run(
                [*base, "digest", "send"], env=run_env, capture_output=True, text=True, timeout=600
            )
            if rerun.returncode != 0:
                print(f"  digest rerun failed:\n{rerun.stderr[-1500:]}", file=sys.stderr)
            time.sleep(0.3)
            counts = Counter(sink.received)
            lost = sum(1 for r in readers if counts[r] == 0)
            dupes = sum(n - 1 for n in counts.values() if n > 1)
            results.append((f"after {at} of {len(readers)} emails sent", lost, dupes))
        finally:
            controller.stop()
    return results


class Budget:
    """The run's time budget: parts that would start after it is spent are skipped."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def allows(self, part: str, at_least: float) -> bool:
        if self.left() >= at_least:
            return True
        print(f"\n({part}: skipped, {self.left():.0f} s of the time budget left)")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemathesis-examples", type=int, default=6)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--budget-s", type=float, default=1500, help="Whole run, seconds.")
    args = parser.parse_args()
    budget = Budget(args.budget_s)
    started = time.monotonic()
    env = {**os.environ, **SECRET, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="pf-robust-") as tmp:
        folder = Path(tmp)
        data = folder / "web"
        subprocess.run(
            [*PAPERFEED, "--data-dir", str(data), "ingest", str(WEB)],
            env=env,
            capture_output=True,
            check=True,
            timeout=300,
        )
        proc, base = serve(data, env)
        try:
            token = bearer(base)
            t = time.monotonic()
            http = bad_http_inputs(base, token)
            print(f"(HTTP inputs: {time.monotonic() - t:.0f} s)", file=sys.stderr)
            st = None
            if budget.allows("schemathesis", 120):
                st = schemathesis_run(
                    base, token, args.schemathesis_examples, folder, budget.left() / 2
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        print("| interface | inputs tried | 5xx seen | timeouts |\n|---|---|---|---|")
        for interface in dict.fromkeys(k[0] for k in http):
            print(
                f"| HTTP: {interface} | {http[(interface, 'tried')]} "
                f"| {http[(interface, '5xx')]} | {http[(interface, 'timeout')]} |"
            )
        if st is not None:
            print(
                f"| HTTP: schemathesis, every operation of /openapi.json | {st[0]} | {st[1]} | 0 |"
            )
        else:
            print(
                "| HTTP: schemathesis, every operation of /openapi.json | - | - | ran out of time |"
            )
        if budget.allows("CLI inputs", 60):
            runs, tracebacks = cli_inputs(folder, env)
            print(
                f"| CLI: `ingest` of damaged or mistyped files | {runs} files | "
                f"{tracebacks} tracebacks | 0 |"
            )
        if budget.allows("kill -9 during ingest", 120):
            print(
                "\n| kill -9 point (ingest, batches of 100) | papers lost after rerun |\n|---|---|"
            )
            for point, lost in kill_ingest(folder, args.kills, env):
                print(f"| {point} | {lost} |")
        if budget.allows("kill -9 during digest send", 120):
            print("\n| kill -9 point (digest send, 120 subscribers) | emails lost | duplicates |")
            print("|---|---|---|")
            for point, lost, dupes in kill_digest(folder, args.kills, env):
                print(f"| {point} | {lost} | {dupes} |")
        print(f"\n(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
