"""The provider refuses to start with a stale schema or unusable signing keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idp.app import create_app
from idp.config import Environment, Settings
from idp.context import ProviderContext, utc_now
from idp.signing_keys import service
from idp.startup import StartupError, run_startup_checks
from idp.storage.models import KeyState, SigningKey

PRODUCTION_PASSPHRASE = "a long production passphrase"


def _key_files(settings: Settings) -> list[Path]:
    return sorted(settings.keys_dir.glob("*.pem")) if settings.keys_dir.exists() else []


def test_development_creates_keys_on_an_empty_store(settings: Settings) -> None:
    app = create_app(settings)
    with app.state.provider.database.transaction() as session:
        keys = service.list_keys(session)
    assert sorted(key.alg for key in keys) == ["ES256", "RS256"]
    assert all(key.state == KeyState.CURRENT for key in keys)
    files = _key_files(settings)
    assert len(files) == 2
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    app.state.provider.database.dispose()


def test_a_stale_schema_is_refused(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}")
    with pytest.raises(StartupError, match=r"schema is not up to date; run `idp db upgrade`"):
        create_app(settings)


def test_production_never_creates_keys(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    # The test database lives in a temporary folder, which production settings refuse on their
    # own; copy validated settings and switch only the mode to test the key rule by itself.
    settings = settings_factory(sqlite_database_url, key_passphrase=PRODUCTION_PASSPHRASE)
    settings = settings.model_copy(update={"env": Environment.PRODUCTION})
    assert settings.is_production
    with pytest.raises(StartupError, match="There is no current RS256 signing key"):
        create_app(settings)
    assert _key_files(settings) == []


def _provision_keys(settings: Settings) -> ProviderContext:
    context = ProviderContext.from_settings(settings)
    with context.database.transaction() as session:
        service.create_initial_keys(session, store=service.key_store(settings), now=utc_now())
    return context


def test_a_wrong_passphrase_is_refused(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    _provision_keys(settings_factory(sqlite_database_url)).database.dispose()
    other = settings_factory(sqlite_database_url, key_passphrase="not the passphrase at all")
    with pytest.raises(StartupError, match="cannot be decrypted: the passphrase is wrong"):
        create_app(other)


def test_a_corrupted_key_file_is_refused(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    settings = settings_factory(sqlite_database_url)
    _provision_keys(settings).database.dispose()
    victim = _key_files(settings)[0]
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x55
    victim.write_bytes(bytes(data))
    with pytest.raises(StartupError, match="cannot be decrypted"):
        create_app(settings)


def test_a_missing_key_file_is_refused_and_not_replaced(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    settings = settings_factory(sqlite_database_url)
    context = _provision_keys(settings)
    _key_files(settings)[0].unlink()
    with pytest.raises(StartupError, match="is missing"):
        run_startup_checks(context)
    assert len(_key_files(settings)) == 1
    with context.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SigningKey)) == 2
    context.database.dispose()
