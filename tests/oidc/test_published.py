"""Discovery and JWKS from precomputed bytes (``idp.oidc.published``): no work per request,
rebuilt when the key ring changes, and served by ``async def`` routes (no thread hop)."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.context_clock import utc_now
from idp.oidc import endpoints
from idp.oidc.published import PublishedDocuments
from idp.oidc.routers import discovery
from idp.signing_keys import service
from idp.signing_keys.algorithms import SigningAlgorithm
from idp.storage.models import KeyState


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_routes_are_async_and_take_no_dependency() -> None:
    for route in discovery.router.routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path
        assert route.dependant.dependencies == [], route.path


def test_bytes_are_reused_until_the_key_ring_changes(app: FastAPI) -> None:
    provider = app.state.provider
    clock = Clock()
    published = PublishedDocuments(provider.settings, provider.keyring, monotonic=clock)
    assert published.fresh() is None
    first = published.refresh()
    assert published.fresh() is first
    assert json.loads(first.jwks) == provider.keyring.jwks()
    assert json.loads(first.discovery)["issuer"] == provider.settings.issuer

    clock.now += 0.25
    assert published.fresh() is None  # due for a check against the key ring
    again = published.refresh()
    assert again.jwks is first.jwks  # same key ring: nothing encoded again
    assert again.discovery is first.discovery

    with provider.database.transaction() as session:
        service.create_key(
            session,
            store=service.key_store(provider.settings),
            algorithm=SigningAlgorithm.ES256,
            state=KeyState.NEXT,
            now=utc_now(),
        )
    provider.keyring.reload()
    clock.now += 0.25
    changed = published.refresh()
    assert json.loads(changed.jwks) == provider.keyring.jwks()
    assert len(json.loads(changed.jwks)["keys"]) == len(json.loads(first.jwks)["keys"]) + 1
    assert changed.discovery is first.discovery  # same signing algorithms


def test_the_endpoints_serve_the_documents(app: FastAPI, client: TestClient) -> None:
    provider = app.state.provider
    jwks = client.get(endpoints.JWKS)
    assert jwks.status_code == 200
    assert jwks.headers["content-type"] == "application/jwk-set+json"
    assert jwks.headers["cache-control"] == (
        f"public, max-age={provider.settings.key_refresh_seconds}"
    )
    assert jwks.json() == provider.keyring.jwks()
    for path in (endpoints.DISCOVERY, endpoints.AUTHORIZATION_SERVER_METADATA):
        metadata = client.get(path)
        assert metadata.status_code == 200
        assert metadata.headers["cache-control"] == "public, max-age=300"
        assert metadata.json()["jwks_uri"].endswith(endpoints.JWKS)


def test_protocol_routes_overlap_no_other_route(app: FastAPI) -> None:
    """They are matched first (``create_app``), which is only safe if no other route could
    have answered one of their paths."""
    protocol = {route.path for route in discovery.router.routes}
    protocol |= {endpoints.TOKEN, endpoints.USERINFO, endpoints.INTROSPECTION, endpoints.REVOCATION}
    protocol |= {endpoints.AUTHORIZE, endpoints.JWKS}
    others = [
        route
        for route in all_routes(app)
        if route.path not in protocol and hasattr(route, "path_regex")
    ]
    assert others
    for route in others:
        for path in protocol:
            assert not route.path_regex.match(path), (route.path, path)


def all_routes(app: FastAPI) -> list:
    found = []

    def walk(routes: list) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
            else:
                found.append(route)

    walk(app.routes)
    return found
