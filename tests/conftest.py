"""Shared fixtures: settings, empty and migrated databases on SQLite and PostgreSQL, the app.

Database fixtures are parametrised over both backends; the PostgreSQL variants run on a
throwaway server started once per test session.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from idp.app import create_app
from idp.config import Settings
from idp.storage.database import Database, create_database_engine
from idp.storage.migrate import upgrade_to_head
from tests.support.hypothesis_profiles import load_profile
from tests.support.postgresql import REQUIRE_VARIABLE, PostgreSQLUnavailable, throwaway_server

load_profile()  # HYPOTHESIS_PROFILE=fuzz (make fuzz) raises every property's examples

TEST_PASSPHRASE = "test key passphrase, long enough"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's IDP_* variables."""
    for name in list(os.environ):
        if name.startswith("IDP_") and not name.startswith("IDP_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[Any]:
    try:
        with throwaway_server() as server:
            yield server
    except PostgreSQLUnavailable as exc:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"PostgreSQL is required here ({REQUIRE_VARIABLE}=1) but {exc}")
        pytest.skip(f"PostgreSQL tests need a server: {exc}")


def _create_pg_database(server: Any, *, template: str | None = None) -> str:
    name = f"idp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            clause = f" TEMPLATE {template}" if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    finally:
        admin.dispose()
    return name


def _drop_pg_database(server: Any, name: str) -> None:
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_template(postgresql_server: Any) -> str:
    """A database migrated once to head, copied for each test that needs a migrated one."""
    name = _create_pg_database(postgresql_server)
    engine = create_database_engine(postgresql_server.url(name))
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = create_database_engine(f"sqlite:///{path}")
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A URL of an empty database on the parametrised backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    server = request.getfixturevalue("postgresql_server")
    name = _create_pg_database(server)
    yield server.url(name)
    _drop_pg_database(server, name)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of a database migrated to head on the parametrised backend."""
    if backend == "sqlite":
        path = tmp_path / "idp.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgresql_server")
    name = _create_pg_database(server, template=request.getfixturevalue("postgresql_template"))
    yield server.url(name)
    _drop_pg_database(server, name)


@pytest.fixture
def sqlite_database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database, for tests whose subject is not the storage backend."""
    path = tmp_path / "idp.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database on the parametrised backend (SQLite and PostgreSQL)."""
    db = Database(create_database_engine(database_url))
    yield db
    db.dispose()


def make_settings(*, database_url: str, keys_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "keys_dir": keys_dir,
        "key_passphrase": TEST_PASSPHRASE,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def build(database_url: str, **overrides: Any) -> Settings:
        return make_settings(database_url=database_url, keys_dir=tmp_path / "keys", **overrides)

    return build


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], sqlite_database_url: str) -> Settings:
    return settings_factory(sqlite_database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.provider.database.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client
