"""Single use under concurrency, on SQLite and on PostgreSQL, over real HTTP (uvicorn on
127.0.0.1): of parallel redemptions of one code, or parallel refreshes of one refresh token,
exactly one succeeds; every other one is ``invalid_grant`` and, being a replay, revokes the
grant (RFC 6749 4.1.2, RFC 9700 4.14.2)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from idp.app import create_app
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.clients import ClientMetadata, register_client
from idp.storage import grants
from tests.helpers import add_citizen
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.test_token import make_code
from tests.support.live_server import free_port, serve_app


@dataclass(frozen=True)
class LiveProvider:
    app: FastAPI
    base_url: str
    client_id: str
    client_secret: str
    citizen_id: int


@pytest.fixture
def live_provider(
    database_url: str, settings_factory: Callable[..., Settings]
) -> Iterator[LiveProvider]:
    port = free_port()
    app = create_app(settings_factory(database_url, issuer=f"http://127.0.0.1:{port}"))
    provider = app.state.provider
    citizen_id = add_citizen(provider.database, provider.hasher)
    with provider.database.transaction() as session:
        row, secret = register_client(
            session,
            metadata=ClientMetadata(client_name="Portal", redirect_uris=[RP_REDIRECT_URI]),
            now=utc_now(),
        )
    assert secret is not None
    try:
        with serve_app(app, port=port) as base_url:
            yield LiveProvider(app, base_url, row.client_id, secret, citizen_id)
    finally:
        provider.database.dispose()


def race(count: int, send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """``count`` threads released at once by a barrier, each sending one request."""
    barrier = threading.Barrier(count)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        response = send()
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(responses) == count
    return responses


def outcomes(responses: list[httpx.Response]) -> list[str]:
    return sorted("ok" if r.status_code == 200 else r.json()["error"] for r in responses)


def grant_active(app: FastAPI, grant_id: str) -> bool:
    with app.state.provider.database.transaction() as session:
        return grants.grant_is_active(session, grant_id=grant_id, now=utc_now())


def post_token(live: LiveProvider, data: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{live.base_url}/token",
        auth=(live.client_id, live.client_secret),
        data=data,
        timeout=120,
    )


def test_fifty_parallel_redemptions_of_one_code(live_provider: LiveProvider) -> None:
    live = live_provider
    issued = make_code(live.app, client_id=live.client_id, citizen_id=live.citizen_id)
    data = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": RP_REDIRECT_URI,
        "code_verifier": issued.verifier,
    }

    responses = race(50, lambda: post_token(live, data))

    assert outcomes(responses) == ["invalid_grant"] * 49 + ["ok"]
    assert all(r.headers["cache-control"] == "no-store" for r in responses)
    assert not grant_active(live.app, issued.grant_id)


def test_parallel_refreshes_of_one_token(live_provider: LiveProvider) -> None:
    live = live_provider
    issued = make_code(live.app, client_id=live.client_id, citizen_id=live.citizen_id)
    tokens = post_token(
        live,
        {
            "grant_type": "authorization_code",
            "code": issued.code,
            "redirect_uri": RP_REDIRECT_URI,
            "code_verifier": issued.verifier,
        },
    ).json()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    responses = race(20, lambda: post_token(live, data))

    assert outcomes(responses) == ["invalid_grant"] * 19 + ["ok"]
    assert not grant_active(live.app, issued.grant_id)
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    refused = post_token(
        live, {"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]}
    )
    assert refused.json()["error"] == "invalid_grant"
