#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
# Used as-is by CI (.ci/run). Idempotent: a second run reuses the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium for the browser tests (Debian package; Playwright drives it).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -q chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium >/dev/null; }
    else
        sudo apt-get install -y -q chromium >/dev/null
    fi
fi

# PostgreSQL for the tests that run on both store backends (--backend all, the default):
# the machine's service on 127.0.0.1:5432; if it is not answering, start the installed one.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start \
            || sudo pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
        for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# Fast checks first (seconds): lint, formatting, strict typing. Exceptions: pyproject.toml.
bash scripts/check.sh
# Two worker processes (pytest-xdist), one per core of the 2-core machines CI runs on: each has
# its own PostgreSQL session database, servers on ports the kernel picks, and temp dirs.
# Arguments come after, so `-n 0` runs it in one process. `pytest tests/test_x.py` stays serial.
exec .venv/bin/python -m pytest -q -n 2 "$@"
