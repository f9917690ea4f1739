"""Liveness and readiness probes: ``/healthz`` never touches the database; ``/readyz`` names
the check that fails (database unreachable or hung, no current signing key) and never shows a
cause or a stack trace."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import make_url

from idp.app import create_app
from idp.config import Settings
from idp.storage.database import Database, create_database_engine
from idp.storage.models import KeyState, SigningKey
from tests.conftest import _drop_pg_database

READY = {"status": "ready", "checks": {"database": "ok", "signing_keys": "ok"}}


@pytest.fixture
def provider(settings_factory: Callable[..., Settings], database_url: str) -> Iterator[FastAPI]:
    """The provider on each backend (SQLite and PostgreSQL)."""
    app = create_app(settings_factory(database_url))
    yield app
    app.state.provider.database.dispose()


def make_database_unreachable(app: FastAPI, database_url: str, request: Any) -> None:
    """Really take the database away: SQLite's file becomes a folder (it cannot be opened);
    PostgreSQL's database is dropped with its connections."""
    app.state.provider.database.dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        path.mkdir()
    else:
        _drop_pg_database(request.getfixturevalue("postgresql_server"), str(url.database))


def test_healthz_answers_without_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_is_ready_on_each_backend(provider: FastAPI) -> None:
    with TestClient(provider) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == READY
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"


def test_readyz_names_an_unreachable_database(
    provider: FastAPI, database_url: str, request: pytest.FixtureRequest
) -> None:
    client = TestClient(provider)
    assert client.get("/readyz").status_code == 200
    make_database_unreachable(provider, database_url, request)

    response = client.get("/readyz")
    assert response.status_code == 503
    # the keyring still holds the keys it loaded; only the database check fails
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "failed", "signing_keys": "ok"},
    }
    assert response.headers["cache-control"] == "no-store"
    assert "Traceback" not in response.text
    # liveness does not depend on the database: the worker is not to be restarted
    assert client.get("/healthz").status_code == 200


def test_readyz_names_missing_signing_keys(app: FastAPI, client: TestClient) -> None:
    provider = app.state.provider
    with provider.database.transaction() as session:
        session.execute(update(SigningKey).values(state=KeyState.RETIRED))
    provider.keyring.reload()

    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "signing_keys": "failed"},
    }


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A listening socket that accepts connections and never says a word (a hung database)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener
    finally:
        listener.close()


def hung_database(listener: socket.socket) -> Database:
    port = listener.getsockname()[1]
    return Database(create_database_engine(f"postgresql+psycopg://idp:idp@127.0.0.1:{port}/idp"))


def test_readyz_gives_up_on_a_hung_database_without_piling_up_threads(
    settings: Settings, silent_server: socket.socket
) -> None:
    hung = hung_database(silent_server)
    app = create_app(settings, database=hung, startup_checks=False)
    probe = app.state.readiness
    probe.timeout_seconds = 0.5
    client = TestClient(app)  # no lifespan: nothing else talks to the hung server
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "timeout", "signing_keys": "timeout"},
        }
        assert elapsed < 5

        # the first probe's threads still wait: the next probe does not start new ones
        assert probe._running == {"database", "signing_keys"}
        started = time.monotonic()
        assert client.get("/readyz").json()["checks"] == {
            "database": "timeout",
            "signing_keys": "timeout",
        }
        assert time.monotonic() - started < 0.5
    finally:
        hung.dispose()


def test_readyz_threads_end_when_the_hung_database_goes_away(
    settings: Settings, silent_server: socket.socket
) -> None:
    hung = hung_database(silent_server)
    app = create_app(settings, database=hung, startup_checks=False)
    probe = app.state.readiness
    probe.timeout_seconds = 0.3
    client = TestClient(app)
    try:
        assert client.get("/readyz").status_code == 503
        silent_server.close()  # the waiting connections are refused now
        deadline = time.monotonic() + 10
        while probe._running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe._running == set()
        assert client.get("/readyz").json()["checks"]["database"] == "failed"
    finally:
        hung.dispose()
