"""Cross-border login wired into the provider's pages, in process, against a peer whose
answers a test chooses.

The provider under test is Uruguay's (A), a real app on its own SQLite database with
development keys. The federation (a Trust Anchor and Brazil's provider B) is the in-memory
federation of ``tests.federation.builder``: real keys, real signed statements, served through
the resolver's fetcher. B's token endpoint is a real HTTP server on 127.0.0.1 that answers
what the test put in :class:`PeerTokenEndpoint`, and records what A sent it. Nothing of the
provider is replaced."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from idp.app import create_app
from idp.config import Settings
from idp.context import utc_now
from idp.federation.resolver import FederationResolver
from idp.oidc.clients import ApplicationType, ClientMetadata, SubjectType, register_client
from idp.storage.models import ClientAuthMethod
from tests.federation.builder import TA, Federation
from tests.federation_crossborder.kit import B_KID, B_OIDC_KEY, B, b_provider_metadata
from tests.support.live_server import serve_app

A = "https://id.example.gub.uy"
PORTAL_REDIRECT_URI = "https://tramites.example.gub.uy/callback"
EIDAS_LOW = "http://eidas.europa.eu/LoA/low"
EIDAS_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
EIDAS_HIGH = "http://eidas.europa.eu/LoA/high"


@dataclass
class PeerTokenEndpoint:
    """B's token endpoint: answers ``status`` and ``body`` (or a body built from the last
    token request by ``respond``) and keeps the forms it received."""

    status: int = 200
    respond: Callable[[dict[str, str]], dict[str, Any]] | None = None
    received: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def token(request: Request) -> JSONResponse:
            form = {key: str(value) for key, value in (await request.form()).items()}
            self.received.append(form)
            body = self.respond(form) if self.respond else {"error": "invalid_grant"}
            return JSONResponse(body, status_code=self.status)

        return Starlette(routes=[Route("/token", token, methods=["POST"])])


@pytest.fixture(scope="module")
def peer_token_endpoint() -> Iterator[tuple[PeerTokenEndpoint, str]]:
    endpoint = PeerTokenEndpoint()
    with serve_app(endpoint.app()) as url:
        yield endpoint, url


@dataclass
class World:
    """The federation, A's app and browser, the portal registered at A, B's token endpoint."""

    fed: Federation
    app: FastAPI
    browser: TestClient
    portal_id: str
    portal_secret: str
    peer: PeerTokenEndpoint
    issuer: str = A
    sent: dict[str, Any] = field(default_factory=dict)
    """The Request Object A sent to B (decoded), once the citizen chose B."""

    def id_token(self, **overrides: Any) -> str:
        """B's ID token for the login in progress (``None`` drops a claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": B,
            "sub": "br-citizen-123",
            "aud": self.issuer,
            "iat": now - 2,
            "exp": now + 300,
            "auth_time": now - 10,
            "nonce": self.sent.get("nonce"),
            "acr": EIDAS_LOW,
            "amr": ["pwd"],
            "given_name": "Maria",
            "family_name": "da Silva",
            "birthdate": "1990-04-01",
        }
        key = overrides.pop("_key", B_OIDC_KEY)
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": B_KID, "typ": "JWT"})

    def answer_with(self, **overrides: Any) -> None:
        self.peer.status = 200
        self.peer.respond = lambda form: {
            "access_token": "at",
            "token_type": "Bearer",
            "id_token": self.id_token(**overrides),
        }


def peer_b_federation(token_endpoint: str, **metadata: Any) -> Federation:
    fed = Federation(now=int(time.time()))
    fed.add(TA, authority=True, metadata={"federation_entity": {"organization_name": "Región"}})
    fed.add(
        B,
        authority_hints=[TA],
        metadata={
            "openid_provider": b_provider_metadata(
                token_endpoint=token_endpoint,
                acr_values_supported=[EIDAS_LOW, EIDAS_SUBSTANTIAL, EIDAS_HIGH],
                **metadata,
            ),
            "federation_entity": {"organization_name": "gov.br", "country": "BR"},
        },
    )
    fed.subordinate(TA, B)
    return fed


@contextlib.contextmanager
def build_world(
    settings_factory: Callable[..., Settings],
    database_url: str,
    endpoint: PeerTokenEndpoint,
    token_endpoint_url: str,
    *,
    issuer: str = A,
    with_browser: bool = True,
) -> Iterator[World]:
    """A (issuer ``issuer``) trusting B through the Trust Anchor, with a portal registered;
    ``with_browser=False`` leaves the app unstarted, for a test that serves it itself."""
    endpoint.status, endpoint.respond, endpoint.received[:] = 200, None, []
    fed = peer_b_federation(token_endpoint_url)
    settings = settings_factory(
        database_url,
        issuer=issuer,
        country="UY",
        federation_enabled=True,
        federation_authority_hints=[TA],
        federation_trust_anchors=fed.trust_anchors(TA),
        federation_peers=[B],
        allow_private_network_fetches=True,
    )
    app = create_app(settings)
    app.state.provider.federation = FederationResolver(settings, fetcher=fed)
    with app.state.provider.database.transaction() as session:
        row, secret = register_client(
            session,
            metadata=ClientMetadata(
                client_name="Portal de trámites",
                redirect_uris=[PORTAL_REDIRECT_URI],
                token_endpoint_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
                application_type=ApplicationType.WEB,
                subject_type=SubjectType.PUBLIC,
            ),
            now=utc_now(),
        )
    assert secret is not None
    try:
        with contextlib.ExitStack() as stack:
            browser = (
                stack.enter_context(TestClient(app, base_url=issuer)) if with_browser else None
            )
            yield World(
                fed=fed,
                app=app,
                browser=browser,  # type: ignore[arg-type]
                portal_id=row.client_id,
                portal_secret=secret,
                peer=endpoint,
                issuer=issuer,
            )
    finally:
        app.state.provider.database.dispose()


@pytest.fixture
def world(
    settings_factory: Callable[..., Settings],
    sqlite_database_url: str,
    peer_token_endpoint: tuple[PeerTokenEndpoint, str],
) -> Iterator[World]:
    endpoint, url = peer_token_endpoint
    with build_world(settings_factory, sqlite_database_url, endpoint, f"{url}/token") as world:
        yield world


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
