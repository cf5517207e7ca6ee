"""`paperfeed doctor` on every backend: what it checks and what it tells the operator."""

from __future__ import annotations


def test_doctor_reports_each_part_and_fails_on_what_cannot_work(
    backend, cli, monkeypatch, smtp_sink, fixtures_dir, closed_port
) -> None:  # noqa: ANN001
    monkeypatch.setenv("PAPERFEED_SMTP_URL", smtp_sink.url)
    monkeypatch.setenv("PAPERFEED_BASE_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.delenv("PAPERFEED_SECRET_KEY", raising=False)
    assert cli("ingest", str(fixtures_dir / "web_papers.jsonl"), "--no-index").exit_code == 0
    r = cli("doctor")
    assert r.exit_code == 0, r.output
    lines = {line.split()[1]: line for line in r.stdout.splitlines()}
    assert lines["database"].startswith("ok") and "migrations current" in lines["database"]
    assert "90 papers" in lines["database"]
    # Nothing has indexed the new papers yet: the doctor says so and what to do.
    assert lines["indexes"].startswith("warn") and "90 papers not yet searchable" in r.stdout
    assert lines["smtp"].startswith("ok")
    assert lines["base_url"].startswith("warn") and "does not answer" in lines["base_url"]
    if backend == "postgres":  # several instances must share one secret
        assert lines["secret"].startswith("warn") and "PAPERFEED_SECRET_KEY" in lines["secret"]
    assert cli("index", "--sync").exit_code == 0
    assert cli("doctor").stdout.count("ok    indexes") == 1

    monkeypatch.setenv("PAPERFEED_SMTP_URL", f"smtp://127.0.0.1:{closed_port}")
    monkeypatch.setenv("PAPERFEED_BASE_URL", "ftp://example.org")
    r = cli("doctor")
    assert r.exit_code == 1
    assert "FAIL  smtp" in r.stdout and "FAIL  base_url" in r.stdout
    assert "2 problem(s) to fix" in r.stderr


def test_doctor_without_a_database(tmp_path, closed_port) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from paperfeed.cli import app

    url = f"postgresql://paperfeed@127.0.0.1:{closed_port}/paperfeed"
    r = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "--database-url", url, "doctor"])
    assert r.exit_code == 1
    assert r.stdout.startswith("FAIL  database   database unreachable (postgresql://")
