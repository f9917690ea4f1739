"""Automatic Registration (OpenID Federation 1.0 section 12.1) at this provider, as peer B of a
cross-border login: provider A (Uruguay), unknown here, sends a citizen with its Entity
Identifier as ``client_id`` and a signed request object made by A's own code
(``idp.federation.crossborder.outbound_request``), then redeems the code with
``private_key_jwt``.

The federation is in memory (``tests.federation.builder``: real keys, real signed Entity
Statements, served by a fetcher in place of the network); the provider, its database (SQLite)
and its resolver are the real ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.context import utc_now
from idp.federation.crossborder import Peer, SigningKey, default_acr_table
from idp.federation.crossborder.outbound_request import (
    OutboundRequest,
    build_authorization_request,
    client_assertion,
    token_request_form,
)
from idp.federation.resolver import FederationResolver
from idp.federation.statements import public_jwk
from idp.oidc.clients import ClientMetadata, register_client
from idp.storage.models import ClientAssertionJti, ClientAuthMethod, OAuthClient
from tests.federation.builder import TA, Federation
from tests.federation_wiring.conftest import ISSUER
from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME, add_citizen
from tests.oidc.flow import query_of
from tests.support.browser_flow import authorize_in_browser

A = "https://id.example.gub.uy"
A_CALLBACK = f"{A}/federation/callback"
A_KEY = ec.generate_private_key(ec.SECP256R1())
A_KID = "uy-oidc-1"
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
TABLE = default_acr_table()


def relying_party_metadata(**overrides: Any) -> dict[str, Any]:
    """What A publishes (``idp.federation.entity.relying_party_metadata``), no client_name."""
    metadata: dict[str, Any] = {
        "application_type": "web",
        "redirect_uris": [A_CALLBACK],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "client_registration_types": ["automatic"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": {"keys": [public_jwk(A_KEY, kid=A_KID, alg="ES256")]},
    }
    metadata.update(overrides)
    return metadata


@dataclass
class World:
    app: FastAPI
    http: TestClient
    federation: Federation
    peer: Peer
    """This provider as A sees it."""

    @property
    def key(self) -> SigningKey:
        return SigningKey(private_key=A_KEY, kid=A_KID, alg="ES256")

    def request(self, **overrides: Any) -> OutboundRequest:
        return build_authorization_request(
            client_id=A,
            redirect_uri=A_CALLBACK,
            peer=self.peer,
            key=self.key,
            table=TABLE,
            requested_level=0,
            now=int(time.time()),
            **overrides,
        )

    def row(self) -> OAuthClient | None:
        with self.app.state.provider.database.transaction() as session:
            row = session.get(OAuthClient, A)
            if row is not None:
                session.expunge(row)
            return row

    def count(self, model: type[Any]) -> int:
        with self.app.state.provider.database.transaction() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def expire_registration(self) -> None:
        with self.app.state.provider.database.transaction() as session:
            row = session.get(OAuthClient, A)
            assert row is not None
            row.registration_expires_at = utc_now() - timedelta(seconds=1)

    def redeem(self, code: str, request: OutboundRequest) -> Any:
        assertion = client_assertion(
            client_id=A, peer=self.peer, key=self.key, now=int(time.time())
        )
        form = token_request_form(code=code, request=request, client_id=A, assertion=assertion)
        return self.http.post("/token", data=form)


@pytest.fixture
def world(federation_app: Callable[..., FastAPI]) -> Iterator[World]:
    federation = Federation(now=int(time.time()))
    federation.add(
        TA, authority=True, metadata={"federation_entity": {"organization_name": "Region"}}
    )
    federation.add(
        A,
        authority_hints=[TA],
        metadata={
            "openid_relying_party": relying_party_metadata(),
            "federation_entity": {"organization_name": "Identidad digital UY", "country": "UY"},
        },
    )
    federation.subordinate(TA, A)
    app = federation_app(
        federation_authority_hints=[TA],
        federation_trust_anchors={TA: federation.entities[TA].jwks},
    )
    provider = app.state.provider
    provider.federation = FederationResolver(provider.settings, fetcher=federation)
    add_citizen(provider.database, provider.hasher)
    peer = Peer(
        issuer=ISSUER,
        organization_name="gov.br",
        country="BR",
        authorization_endpoint=f"{ISSUER}/authorize",
        token_endpoint=f"{ISSUER}/token",
        jwks=None,
        jwks_uri=f"{ISSUER}/jwks.json",
        id_token_signing_alg_values_supported=("RS256",),
        request_object_signing_alg_values_supported=("ES256",),
        acr_values_supported=None,
        expires_at=federation.now + 3600,
    )
    with TestClient(app, base_url=ISSUER) as http:
        yield World(app=app, http=http, federation=federation, peer=peer)


def log_in(world: World, url: str) -> dict[str, str]:
    received = authorize_in_browser(
        world.http, url, redirect_uri=A_CALLBACK, username=DEMO_USERNAME, password=DEMO_PASSWORD
    )
    return received.params


def authorize_path(request_object: str | None, **query: str) -> str:
    params = {"client_id": A, "response_type": "code", "scope": "openid", **query}
    if request_object is not None:
        params["request"] = request_object
    return "/authorize?" + urlencode(params)


def page_error(response: Any) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


# --- the happy path -------------------------------------------------------------------------


def test_an_unknown_entity_registers_logs_a_citizen_in_and_redeems_the_code(
    world: World,
) -> None:
    assert world.row() is None
    request = world.request()
    received = log_in(world, request.url)
    assert received["state"] == request.state
    assert received["iss"] == ISSUER

    row = world.row()
    assert row is not None
    assert row.registration_type == "automatic"
    assert row.client_name == "Identidad digital UY"  # organization_name: no client_name
    assert row.redirect_uris == [A_CALLBACK]
    assert row.token_endpoint_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT
    assert row.grant_types == ["authorization_code"]
    assert row.secret_hash is None
    assert row.subject_type == "public"
    assert row.federation_trust_anchor == TA
    assert row.registration_expires_at is not None
    settings = world.app.state.provider.settings
    ahead = row.registration_expires_at - utc_now()
    assert timedelta(0) < ahead <= timedelta(seconds=settings.federation_chain_cache_seconds)

    token = world.redeem(received["code"], request)
    assert token.status_code == 200, token.text
    body = token.json()
    assert "refresh_token" not in body
    jwks = world.http.get("/jwks.json").json()
    header = jwt.get_unverified_header(body["id_token"])
    key = next(jwk for jwk in jwks["keys"] if jwk["kid"] == header["kid"])
    id_token = jwt.decode(
        body["id_token"],
        jwt.PyJWK.from_dict(key).key,
        algorithms=[header["alg"]],
        audience=A,
        issuer=ISSUER,
    )
    assert id_token["nonce"] == request.nonce
    assert id_token["given_name"] == "María"  # the claims request of A's request object


def test_a_current_registration_is_used_without_resolving_again(world: World) -> None:
    log_in(world, world.request().url)
    fetches = len(world.federation.calls)
    world.app.state.provider.federation.forget()
    second = world.request()
    received = log_in(world, second.url)
    assert received["state"] == second.state
    assert len(world.federation.calls) == fetches
    assert world.count(OAuthClient) == 1


# --- refusals: nothing is created -----------------------------------------------------------


def break_unknown_at_the_anchor(federation: Federation) -> None:
    del federation.subordinate_claims[(TA, A)]


def break_unreachable(federation: Federation) -> None:
    del federation.entities[A]


def break_bad_signature(federation: Federation) -> None:
    claims = federation.configuration_claims(A)
    federation.configuration_overrides[A] = jwt.encode(
        claims, OTHER_KEY, algorithm="ES256", headers={"typ": "entity-statement+jwt", "kid": "x"}
    )


def break_expired(federation: Federation) -> None:
    federation.entities[A].extra_claims = {"exp": federation.now - 3600}


def break_secret_method(federation: Federation) -> None:
    federation.entities[A].metadata["openid_relying_party"] = relying_party_metadata(
        token_endpoint_auth_method="client_secret_basic"
    )


def break_no_keys(federation: Federation) -> None:
    metadata = relying_party_metadata()
    del metadata["jwks"]
    federation.entities[A].metadata["openid_relying_party"] = metadata


CHAIN_FAILURES: dict[str, Callable[[Federation], None]] = {
    "unknown at the Trust Anchor": break_unknown_at_the_anchor,
    "unreachable": break_unreachable,
    "bad signature": break_bad_signature,
    "expired statements": break_expired,
    "metadata with a client secret": break_secret_method,
    "metadata without keys": break_no_keys,
}


@pytest.mark.parametrize("case", sorted(CHAIN_FAILURES))
def test_when_the_chain_or_its_metadata_fails_the_citizen_sees_a_page(
    world: World, case: str
) -> None:
    CHAIN_FAILURES[case](world.federation)
    response = world.http.get(world.request().url, follow_redirects=False)
    assert page_error(response) == "invalid_request"
    assert world.row() is None
    assert world.count(ClientAssertionJti) == 0


def test_without_a_request_object_nothing_is_fetched(world: World) -> None:
    url = authorize_path(
        None,
        redirect_uri=A_CALLBACK,
        state="s",
        nonce="n",
        code_challenge="a" * 43,
        code_challenge_method="S256",
    )
    response = world.http.get(url, follow_redirects=False)
    assert page_error(response) == "invalid_request"
    assert world.federation.calls == []
    assert world.row() is None


def test_a_registered_entity_still_needs_a_request_object(world: World) -> None:
    log_in(world, world.request().url)
    url = authorize_path(
        None,
        redirect_uri=A_CALLBACK,
        state="s",
        nonce="n",
        code_challenge="a" * 43,
        code_challenge_method="S256",
    )
    response = world.http.get(url, follow_redirects=False)
    assert response.status_code == 303
    error = query_of(response.headers["location"])
    assert response.headers["location"].startswith(A_CALLBACK)
    assert error["error"] == "invalid_request"
    assert error["state"] == "s"


def request_claims(world: World, **overrides: Any) -> dict[str, Any]:
    claims = dict(jwt.decode(world.request().request_object, options={"verify_signature": False}))
    claims.update(overrides)
    return claims


def signed(claims: dict[str, Any], *, key: Any = A_KEY, typ: str = "oauth-authz-req+jwt") -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"typ": typ, "kid": A_KID})


def unsigned(claims: dict[str, Any], header: dict[str, Any], key: bytes | None) -> str:
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    signing_input = b".".join(segments)
    if key is None:
        return signing_input.decode() + "."
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()


PUBLIC_PEM = A_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
BAD_OBJECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "bad signature": lambda claims: signed(claims, key=OTHER_KEY),
    "alg none": lambda claims: unsigned(claims, {"alg": "none"}, None),
    "HS256 keyed with the public key": lambda claims: unsigned(
        claims, {"alg": "HS256", "typ": "oauth-authz-req+jwt", "kid": A_KID}, PUBLIC_PEM
    ),
    "typ JWT": lambda claims: signed(claims, typ="JWT"),
    "wrong iss": lambda claims: signed({**claims, "iss": "https://other.example.org"}),
    "wrong aud": lambda claims: signed({**claims, "aud": "https://id.example.gov.br"}),
    "expired": lambda claims: signed({**claims, "exp": int(time.time()) - 120}),
}


@pytest.mark.parametrize("case", sorted(BAD_OBJECTS))
def test_a_bad_request_object_registers_nothing(world: World, case: str) -> None:
    token = BAD_OBJECTS[case](request_claims(world))
    response = world.http.get(authorize_path(token), follow_redirects=False)
    assert page_error(response) == "invalid_request_object"
    assert world.row() is None
    assert world.count(ClientAssertionJti) == 0


def test_a_bad_request_object_goes_back_to_a_redirect_uri_of_the_resolved_metadata(
    world: World,
) -> None:
    token = signed(request_claims(world), key=OTHER_KEY)
    response = world.http.get(
        authorize_path(token, redirect_uri=A_CALLBACK, state="outer"), follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(A_CALLBACK)
    error = query_of(response.headers["location"])
    assert (error["error"], error["state"]) == ("invalid_request_object", "outer")
    assert world.row() is None


def test_a_redirect_uri_outside_the_resolved_metadata_is_refused_on_a_page(
    world: World,
) -> None:
    token = signed(request_claims(world, redirect_uri="https://evil.example/callback"))
    response = world.http.get(authorize_path(token), follow_redirects=False)
    assert page_error(response) == "invalid_request"
    assert world.row() is None
    assert world.count(ClientAssertionJti) == 0


def test_a_replayed_request_object_is_refused(world: World) -> None:
    request = world.request()
    first = world.http.get(request.url, follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?")
    assert world.count(ClientAssertionJti) == 1
    replayed = world.http.get(request.url, follow_redirects=False)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith(A_CALLBACK)
    error = query_of(replayed.headers["location"])
    assert error["error"] == "invalid_request_object"
    assert world.count(OAuthClient) == 1
    assert world.count(ClientAssertionJti) == 1


# --- after registration: expiry, removal at the Trust Anchor, collisions --------------------


def test_an_entity_removed_at_the_anchor_is_refused_once_its_registration_expires(
    world: World,
) -> None:
    request = world.request()
    received = log_in(world, request.url)
    break_unknown_at_the_anchor(world.federation)
    # The resolver's cache still holds the chain: expiry of the registration forces a fresh
    # resolution, which fails.
    world.expire_registration()

    token = world.redeem(received["code"], request)
    assert token.status_code == 401
    assert token.json()["error"] == "invalid_client"

    again = world.http.get(world.request().url, follow_redirects=False)
    assert page_error(again) == "invalid_request"
    row = world.row()
    assert row is not None
    assert row.registration_expires_at is not None
    assert row.registration_expires_at < utc_now()  # the stale row was not refreshed


def test_an_expired_registration_is_refreshed_from_the_current_metadata(world: World) -> None:
    request = world.request()
    received = log_in(world, request.url)
    new_callback = f"{A}/federation/callback2"
    world.federation.entities[A].metadata["openid_relying_party"] = relying_party_metadata(
        redirect_uris=[A_CALLBACK, new_callback], client_name="Uruguay"
    )
    world.expire_registration()

    token = world.redeem(received["code"], request)
    assert token.status_code == 200, token.text
    row = world.row()
    assert row is not None
    assert row.registration_expires_at is not None
    assert row.registration_expires_at > utc_now()
    assert row.redirect_uris == [A_CALLBACK, new_callback]
    assert row.client_name == "Uruguay"


def test_a_static_client_with_the_same_id_is_never_overwritten(world: World) -> None:
    with world.app.state.provider.database.transaction() as session:
        static, _ = register_client(
            session,
            metadata=ClientMetadata(
                client_name="Static", redirect_uris=["https://static.example/cb"]
            ),
            now=utc_now(),
            client_id=A,
        )
        secret_hash = static.secret_hash
    response = world.http.get(world.request().url, follow_redirects=False)
    # The static client has no keys: its request object cannot be verified.
    assert page_error(response) == "invalid_request_object"
    assert world.federation.calls == []
    row = world.row()
    assert row is not None
    assert (row.registration_type, row.client_name, row.secret_hash) == (
        "static",
        "Static",
        secret_hash,
    )
    assert row.redirect_uris == ["https://static.example/cb"]


def test_automatic_registrations_are_not_used_once_federation_is_off(
    world: World, federation_app: Callable[..., FastAPI]
) -> None:
    request = world.request()
    received = log_in(world, request.url)
    off = federation_app(federation_enabled=False)  # the same database and keys
    with TestClient(off, base_url=ISSUER) as http:
        assertion = client_assertion(
            client_id=A, peer=world.peer, key=world.key, now=int(time.time())
        )
        form = token_request_form(
            code=received["code"], request=request, client_id=A, assertion=assertion
        )
        token = http.post("/token", data=form)
        assert token.status_code == 401
        response = http.get(world.request().url, follow_redirects=False)
        assert page_error(response) == "invalid_request"
