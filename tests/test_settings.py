"""Settings: documented, validated, resolved in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from paperfeed.settings import Settings, load_settings

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
