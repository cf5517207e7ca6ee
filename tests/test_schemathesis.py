"""schemathesis over `/openapi.json`: no operation answers 5xx, whatever it is sent.

The real `schemathesis` command runs against a live server: every documented operation gets
a bounded number of generated requests (valid and invalid: the examples, coverage and
fuzzing phases), anonymously and then with a signed-in account's bearer token. A real SMTP
server is behind the app, so operations that send mail do send it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveServer, Visitor, _running_sink, _start_server

EXAMPLES_PER_OPERATION = 6
ANONYMOUS_EXAMPLES = 4
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with _running_sink() as sink:
        for server in _start_server(tmp_path_factory.mktemp("fuzz") / "data", smtp_url=sink.url):
            server.sink = sink  # type: ignore[attr-defined]
            yield server


def bearer_token(server: LiveServer) -> str:
    visitor = Visitor(server)
    try:
        # the server sends mail, so sign-up goes through the emailed link
        visitor.sign_up("fuzzer@example.org", sink=server.sink)  # type: ignore[attr-defined]
        r = visitor.http.post(
            "/api/session",
            json={"email": "fuzzer@example.org", "password": "correct horse battery"},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])
    finally:
        visitor.close()


def run_schemathesis(server: LiveServer, tmp_path: Path, *extra: str) -> str:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server.url}/openapi.json",
        "--checks=not_a_server_error",
        "--seed=20250101",
        "--workers=1",
        "--suppress-health-check=all",
        "--warnings=off",
        "--request-timeout=30",
        *extra,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


def test_no_operation_answers_5xx(fuzzed_server: LiveServer, tmp_path: Path) -> None:
    token = bearer_token(fuzzed_server)
    signed_in = run_schemathesis(
        fuzzed_server,
        tmp_path,
        "--phases=coverage,fuzzing",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        f"--header=Authorization: Bearer {token}",
        "--exclude-path=/api/session",  # signing out would end the run's own session
    )
    assert "No issues found" in signed_in
    anonymous = run_schemathesis(
        fuzzed_server, tmp_path, "--phases=fuzzing", f"--max-examples={ANONYMOUS_EXAMPLES}"
    )
    assert "No issues found" in anonymous
    operations = int(re.search(r"Operations:\s+\d+ selected / (\d+) total", anonymous)[1])
    assert f"Tested: {operations}" in anonymous  # every documented operation was exercised
