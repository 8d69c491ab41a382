"""Settings come from the environment only; every bad value is reported with the variable's name."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.core.config import ConfigError, load_settings, with_secret_key


def test_defaults_need_no_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.embedded_db
    assert settings.data_dir == (tmp_path / ".baton").resolve()
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.log_format == "text"
    assert settings.default_tier == "free"
    assert settings.offline_model
    assert settings.smtp_url is None


def test_values_are_read_from_the_environment(tmp_path):
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://baton@db:5432/baton",
            "BATON_DATA_DIR": str(tmp_path / "data"),
            "BATON_BASE_URL": "https://baton.example.com/",
            "OPENAI_BASE_URL": "http://localhost:11434/v1",
            "OPENAI_API_KEY": "sk-test",
            "BATON_MODEL": "llama3",
            "SMTP_URL": "smtps://user:pw@mail.example.com:465",
            "BATON_MAIL_FROM": "baton@example.com",
            "BATON_LOG_FORMAT": "json",
            "BATON_DEFAULT_TIER": "pro",
        }
    )
    assert not settings.embedded_db
    assert settings.database_url == "postgresql://baton@db:5432/baton"
    assert settings.data_dir == tmp_path / "data"
    assert (
        settings.base_url == "https://baton.example.com"
    )  # no trailing slash when links are built
    assert not settings.offline_model
    assert settings.model == "llama3"
    assert settings.log_format == "json"
    assert settings.default_tier == "pro"


def test_blank_values_count_as_unset(tmp_path):
    settings = load_settings(
        {"DATABASE_URL": "  ", "BATON_LOG_FORMAT": "", "BATON_DATA_DIR": str(tmp_path)}
    )
    assert settings.embedded_db
    assert settings.log_format == "text"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "mysql://root@localhost/baton"),
        ("DATABASE_URL", "postgresql://"),
        ("BATON_BASE_URL", "baton.example.com"),
        ("OPENAI_BASE_URL", "localhost:11434"),
        ("SMTP_URL", "mail.example.com"),
        ("BATON_MAIL_FROM", "nobody"),
        ("BATON_SECRET_KEY", "short"),
        ("BATON_LOG_FORMAT", "xml"),
        ("BATON_DEFAULT_TIER", "gold"),
        ("BATON_SANDBOX", "docker"),
    ],
)
def test_a_bad_value_is_reported_with_the_variable_name(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({"BATON_DATA_DIR": str(tmp_path), name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_data_dir_that_is_a_file_is_rejected(tmp_path):
    file = tmp_path / "not-a-dir"
    file.write_text("")
    with pytest.raises(ConfigError, match="^BATON_DATA_DIR:"):
        load_settings({"BATON_DATA_DIR": str(file)})


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    settings = load_settings({"BATON_DATA_DIR": str(tmp_path / "data")})
    first = with_secret_key(settings)
    second = with_secret_key(load_settings({"BATON_DATA_DIR": str(tmp_path / "data")}))
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    key_file = Path(tmp_path / "data" / "secret_key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temp file left behind


def test_a_given_secret_key_is_used_and_nothing_is_written(tmp_path):
    settings = load_settings(
        {"BATON_DATA_DIR": str(tmp_path / "data"), "BATON_SECRET_KEY": "k" * 20}
    )
    assert with_secret_key(settings).secret_key == "k" * 20
    assert not (tmp_path / "data").exists()
