"""Settings: validated at start, production refuses development defaults with one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.config import DEVELOPMENT_KEY_PASSPHRASE, SettingsError, load_settings

DURABLE_URL = "postgresql+psycopg://idp@db.internal/idp"
GOOD_PASSPHRASE = "a long production passphrase"
GOOD_SALT = "a long pairwise salt value"


def test_defaults_are_a_local_development_setup() -> None:
    settings = load_settings(_env_file=None)
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.effective_database_url == "sqlite:///var/idp.sqlite3"
    assert settings.keys_dir == Path("keys")
    assert settings.key_passphrase_bytes() == DEVELOPMENT_KEY_PASSPHRASE.encode()
    assert not settings.is_production


def test_settings_come_from_idp_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_ISSUER", "https://id.example.gub.uy")
    monkeypatch.setenv("IDP_DATABASE_URL", DURABLE_URL)
    monkeypatch.setenv("IDP_COUNTRY", "br")
    settings = load_settings(_env_file=None)
    assert settings.issuer == "https://id.example.gub.uy"
    assert settings.effective_database_url == DURABLE_URL
    assert settings.country == "BR"
    assert settings.uses_https


@pytest.mark.parametrize(
    "issuer",
    ["http://127.0.0.1:8000", "http://localhost:9000", "http://[::1]:8000", "https://id.gub.uy"],
)
def test_accepted_issuers(issuer: str) -> None:
    assert load_settings(_env_file=None, issuer=issuer).issuer == issuer


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ("http://id.gub.uy", "must use https unless its host is a loopback address"),
        ("http://10.0.0.1", "must use https unless its host is a loopback address"),
        ("https://id.gub.uy/", "must not end with a slash"),
        ("https://id.gub.uy?x=1", "must not have a query or a fragment"),
        ("id.gub.uy", "must be an absolute https URL"),
    ],
)
def test_refused_issuers(issuer: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(_env_file=None, issuer=issuer)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "Production mode needs IDP_DATABASE_URL to be set explicitly."),
        (
            {"database_url": "sqlite:////tmp/idp.sqlite3", "key_passphrase": GOOD_PASSPHRASE},
            "Production mode refuses a SQLite database in a temporary folder",
        ),
        (
            {"database_url": "sqlite://", "key_passphrase": GOOD_PASSPHRASE},
            "Production mode refuses a SQLite database in a temporary folder",
        ),
        ({"database_url": DURABLE_URL}, "Production mode needs IDP_KEY_PASSPHRASE"),
        (
            {"database_url": DURABLE_URL, "key_passphrase": DEVELOPMENT_KEY_PASSPHRASE},
            "Production mode refuses the development key passphrase",
        ),
        (
            {"database_url": DURABLE_URL, "key_passphrase": "short"},
            "Production mode refuses the development key passphrase or one shorter than 16",
        ),
        (
            {"database_url": DURABLE_URL, "key_passphrase": GOOD_PASSPHRASE},
            "Production mode needs IDP_PAIRWISE_SALT",
        ),
    ],
)
def test_production_refuses_development_defaults(overrides: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        load_settings(_env_file=None, env="production", **overrides)
    assert "\n" not in str(raised.value)


def test_production_accepts_explicit_settings() -> None:
    settings = load_settings(
        _env_file=None,
        env="production",
        database_url=DURABLE_URL,
        key_passphrase=GOOD_PASSPHRASE,
        pairwise_salt=GOOD_SALT,
    )
    assert settings.is_production
    assert settings.key_passphrase_bytes() == GOOD_PASSPHRASE.encode()


def test_passphrase_file_takes_precedence(tmp_path: Path) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("passphrase from a file, long\nignored second line\n")
    settings = load_settings(
        _env_file=None,
        env="production",
        database_url=DURABLE_URL,
        key_passphrase=GOOD_PASSPHRASE,
        key_passphrase_file=secret,
        pairwise_salt=GOOD_SALT,
    )
    assert settings.key_passphrase_bytes() == b"passphrase from a file, long"


def test_unreadable_passphrase_file_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="IDP_KEY_PASSPHRASE_FILE cannot be read"):
        load_settings(
            _env_file=None,
            env="production",
            database_url=DURABLE_URL,
            key_passphrase_file=tmp_path / "missing",
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password_memory_cost_kib": 8192}, "IDP_PASSWORD_MEMORY_COST_KIB"),
        ({"password_time_cost": 1}, "IDP_PASSWORD_TIME_COST"),
        ({"country": "URY"}, "two-letter ISO 3166-1 code"),
        ({"default_language": "fr"}, "IDP_DEFAULT_LANGUAGE must be one of es, pt, en"),
    ],
)
def test_other_invalid_settings(overrides: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(_env_file=None, **overrides)
