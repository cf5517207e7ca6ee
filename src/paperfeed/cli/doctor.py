"""`paperfeed doctor`: check this deployment and say what to fix."""

from __future__ import annotations

import typer

from paperfeed.cli.common import say, state
from paperfeed.doctor import run_checks
from paperfeed.settings import load_settings_for_diagnosis


def doctor() -> None:
    """Check the database, migrations, search indexes, jobs, secret, SMTP and base URL."""
    settings, problems = load_settings_for_diagnosis(**state.overrides())
    checks = run_checks(settings, problems)
    for check in checks:
        say(check.line())
    failed = [c for c in checks if c.level == "FAIL"]
    if failed:
        say(f"{len(failed)} problem(s) to fix", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `doctor` to the main CLI."""
    app.command()(doctor)
