#!/usr/bin/env bash
# Lint, format and strict type checks: run before every landing (scripts/test.sh runs it
# before the suite). Needs the venv that scripts/test.sh sets up. Exceptions, each with its
# reason, are in pyproject.toml ([tool.ruff.lint], [tool.mypy]).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
.venv/bin/mypy
