"""Settings: documented, validated, resolved in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from paperfeed.errors import ConfigError
from paperfeed.settings import Settings, load_settings
from paperfeed.web.app import create_app

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme_and_has_help():
    text = README.read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no help string"
        assert f"`PAPERFEED_{name.upper()}`" in text, f"PAPERFEED_{name.upper()} not in README"


def test_placeholder_secret_is_refused():
    with pytest.raises(ValidationError, match="change-me"):
        Settings(secret_key="change-me")


def test_data_dir_flag_beats_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "env"))
    assert load_settings().data_dir == tmp_path / "env"
    assert load_settings(data_dir=tmp_path / "flag").data_dir == tmp_path / "flag"


def test_default_data_dir_is_per_user(monkeypatch):
    monkeypatch.delenv("PAPERFEED_DATA_DIR", raising=False)
    assert "paperfeed" in str(load_settings().data_dir)


def test_generated_secret_is_kept(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    first = settings.resolved_secret()
    assert len(first) >= 32
    assert load_settings(data_dir=tmp_path).resolved_secret() == first


def _resolve_secret_after(barrier, data_dir, keys) -> None:  # noqa: ANN001
    settings = load_settings(data_dir=data_dir, secret_key="")
    barrier.wait()  # every process asks for the key at the same moment
    keys.put(settings.resolved_secret())


def test_processes_starting_together_share_one_generated_secret(tmp_path):
    """`serve` and `worker` (or several app workers) starting at once on a fresh data
    directory must sign with the same key: each generated and wrote its own, and the ones
    that lost the race signed sessions and email links the others rejected."""
    import multiprocessing
    import stat

    ctx = multiprocessing.get_context("fork")
    for trial in range(20):
        data_dir = tmp_path / f"data{trial}"
        barrier, keys = ctx.Barrier(12), ctx.Queue()
        procs = [
            ctx.Process(target=_resolve_secret_after, args=(barrier, data_dir, keys))
            for _ in range(12)
        ]
        for proc in procs:
            proc.start()
        seen = {keys.get(timeout=60) for _ in procs}
        for proc in procs:
            proc.join(timeout=60)
        assert seen == {(data_dir / "secret_key").read_text()}, f"trial {trial}: {len(seen)} keys"
        assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600
        assert sorted(p.name for p in data_dir.iterdir()) == ["secret_key"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PAPERFEED_EMBEDDER", "bert-large", "PAPERFEED_EMBEDDER must be one of"),
        ("PAPERFEED_DIGEST_TIME", "7am", "PAPERFEED_DIGEST_TIME must be HH:MM (UTC), not '7am'"),
        ("PAPERFEED_HARVEST_TIME", "late", "PAPERFEED_HARVEST_TIME must be HH:MM (UTC)"),
        ("PAPERFEED_DATABASE_URL", "mysql://u:secret@h/db", "not mysql://..."),
        ("PAPERFEED_DATABASE_URL", "sqlite:///srv/pf.db", "'srv/pf.db' is a relative path"),
        ("PAPERFEED_BASE_URL", "papers.example.org", "PAPERFEED_BASE_URL must be an http(s) URL"),
        ("PAPERFEED_FETCH_INTERVAL", "soon", "PAPERFEED_FETCH_INTERVAL:"),
        ("PAPERFEED_SOURCES", "arxiv:cs.CL,cs.LG", "PAPERFEED_SOURCES: unknown source 'cs.LG'"),
        ("PAPERFEED_SMTP_URL", "http://u:secret@mail.example.org", "PAPERFEED_SMTP_URL must look"),
        (
            "PAPERFEED_SMTP_URL",
            "smtp://mail.example.org:99999",
            "PAPERFEED_SMTP_URL has an invalid",
        ),
        ("PAPERFEED_MAIL_FROM", "paperfeed", "PAPERFEED_MAIL_FROM has no usable address"),
        ("PAPERFEED_ARXIV_URL", "export.arxiv.org", "PAPERFEED_ARXIV_URL must be an http(s) URL"),
        ("PAPERFEED_HF_URL", "ftp://huggingface.co", "PAPERFEED_HF_URL must be an http(s) URL"),
        ("PAPERFEED_SOURCES", "arxiv:zz.AB", "PAPERFEED_SOURCES: 'zz.AB' is not an arXiv"),
    ],
)
def test_bad_configuration_is_one_clear_line_at_start_up(
    monkeypatch, tmp_path, cli, variable, value, expected
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path)
    assert expected in info.value.message
    assert "secret" not in info.value.message  # a database password is never echoed
    with pytest.raises(ConfigError):
        create_app()  # the web app refuses to build, it does not answer 400s later
    result = cli("stats")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"Error: {info.value.message}"]


def test_good_configuration_values_are_accepted(tmp_path):
    settings = load_settings(
        data_dir=tmp_path,
        digest_time="",
        database_url=f"sqlite:///{tmp_path}/x.sqlite3",
        base_url="https://papers.example.org/lab",
        embedder="static",
        sources="arxiv:cs.CL, hf-daily,",
    )
    assert settings.digest_at is None
    assert load_settings(data_dir=tmp_path, digest_time="06:30").digest_at.hour == 6
