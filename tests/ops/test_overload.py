"""Load shedding: beyond ``max_concurrent_requests`` in flight, a worker answers 503
``temporarily_unavailable`` with ``Retry-After: 1`` at once; the probes and /metrics always
answer; a slot is given back however the request ends."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import anyio
import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from idp.app import create_app
from idp.config import Settings
from idp.ops.overload import OverloadMiddleware
from tests.support.live_server import serve_app

SHED_BODY = {
    "error": "temporarily_unavailable",
    "error_description": "The service is temporarily overloaded; try again shortly.",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class HeldApp:
    """A tiny ASGI app whose ``/slow`` waits until released; ``/fail`` raises."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            self.entered.set()
            await self.release.wait()
        if scope["path"] == "/fail":
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def assert_shed(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == SHED_BODY


@pytest.mark.anyio
async def test_a_request_beyond_the_limit_is_shed_while_probes_answer() -> None:
    inner = HeldApp()
    shed: list[None] = []
    middleware = OverloadMiddleware(
        inner,
        max_concurrent=1,
        exempt_paths={"/healthz", "/readyz", "/metrics"},
        on_shed=lambda: shed.append(None),
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://idp.test") as client:
        slow: list[httpx.Response] = []

        async def hold() -> None:
            slow.append(await client.get("/slow"))

        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            with anyio.fail_after(5):
                await inner.entered.wait()
            assert middleware.in_flight == 1

            assert_shed(await client.get("/login"))
            assert_shed(await client.post("/token"))
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200
            assert len(shed) == 2

            inner.release.set()
        assert slow[0].status_code == 200
        assert middleware.in_flight == 0
        assert (await client.get("/login")).status_code == 200


@pytest.mark.anyio
async def test_a_failing_request_gives_its_slot_back() -> None:
    middleware = OverloadMiddleware(HeldApp(), max_concurrent=1)
    transport = httpx.ASGITransport(app=middleware, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://idp.test") as client:
        assert (await client.get("/fail")).status_code == 500
        assert middleware.in_flight == 0
        assert (await client.get("/ok")).status_code == 200


@pytest.fixture
def limited_provider(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[FastAPI]:
    app = create_app(settings_factory(sqlite_database_url, max_concurrent_requests=1))
    yield app
    app.state.provider.database.dispose()


def test_the_provider_sheds_over_http_while_probes_and_metrics_answer(
    limited_provider: FastAPI,
) -> None:
    """A real server; one client holds a token request mid-body (headers sent, body not)."""
    with serve_app(limited_provider) as base_url, httpx.Client(base_url=base_url) as client:
        port = int(base_url.rsplit(":", 1)[1])
        held = socket.create_connection(("127.0.0.1", port))
        try:
            held.sendall(
                b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            )
            response = wait_for(lambda: client.get("/login"), lambda r: r.status_code == 503)
            assert_shed(response)
            assert response.headers["x-request-id"]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            assert "idp_requests_shed_total 1.0" in metrics.text
            assert 'route="<shed>",status_class="5xx"' in metrics.text
        finally:
            held.close()  # the held request ends: its slot is free again
        after = wait_for(lambda: client.get("/login"), lambda r: r.status_code == 200)
        assert after.status_code == 200


def wait_for(
    call: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool]
) -> httpx.Response:
    deadline = time.monotonic() + 10
    while True:
        response = call()
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)
