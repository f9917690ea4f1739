"""Request size limits: every endpoint refuses a body above the ceiling with 413 before it is
read into memory (declared with Content-Length) or as soon as it passes it (chunked), and the
request changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.app import create_app
from idp.storage.models import LoginFailureCounter
from tests.helpers import add_citizen, csrf_token_of, log_in

TOO_LARGE = 300 * 1024  # the default ceiling is 256 KiB


def _failure_rows(app: FastAPI) -> int:
    with app.state.provider.database.transaction() as session:
        return session.scalar(select(func.count()).select_from(LoginFailureCounter)) or 0


@pytest.mark.parametrize("path", ["/login", "/authorize", "/token", "/introspect", "/consent"])
def test_a_declared_oversized_body_is_refused_with_413(client: TestClient, path: str) -> None:
    response = client.post(
        path,
        content=b"a=" + b"x" * TOO_LARGE,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "request_too_large"


@pytest.mark.parametrize("path", ["/login", "/token"])
def test_a_declared_oversized_body_is_refused_before_any_of_it_is_read(
    app: FastAPI, path: str
) -> None:
    """RFC 9110 15.5.14: the declared Content-Length alone decides. A client that announces
    a gigabyte and then sends it slowly (or never) must not hold a worker reading it: the 413
    goes out before the first ``receive`` (driven at the ASGI level, where the reads can be
    counted)."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(1024**3).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert reads == 0


def test_a_chunked_oversized_body_is_cut_off_and_changes_nothing(
    app: FastAPI, client: TestClient
) -> None:
    page = client.get("/login")
    token = csrf_token_of(page)

    def chunks() -> Iterator[bytes]:
        yield f"csrf_token={token}&username=12345672&password=".encode()
        for _ in range(40):
            yield b"x" * 8192

    response = client.post(
        "/login",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert _failure_rows(app) == 0  # the wrong password was never checked


def test_ordinary_requests_pass(app: FastAPI, client: TestClient) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    assert log_in(client).status_code == 303


@pytest.mark.parametrize("client_id", ["a\x00b", "\x00", "x" * 65, "tab\there"])
def test_client_ids_no_client_can_have_are_invalid_client_not_errors(
    database_url: str, settings_factory, client_id: str
) -> None:
    """A NUL byte in a client_id must never reach PostgreSQL (which refuses it with an error,
    a 500): it is an unknown client like any other, on both backends."""
    application = create_app(settings_factory(database_url))
    try:
        with TestClient(application, base_url="http://127.0.0.1:8000") as http:
            response = http.post(
                "/token",
                data={"grant_type": "client_credentials", "client_id": client_id},
                auth=(client_id.replace(":", ""), "secret") if "\x00" not in client_id else None,
            )
    finally:
        application.state.provider.database.dispose()
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "invalid_request")
