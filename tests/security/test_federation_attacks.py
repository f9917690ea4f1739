"""Attacks on the federation endpoints that the feature tests do not already show.

- As the peer of a cross-border login (automatic registration, OpenID Federation 1.0 section
  12.1): a relying party that registered ``request_object_signing_alg`` cannot have a request
  object signed with another of its keys accepted (RFC 8725 section 3.1, algorithm pinning);
  an unknown entity costs a bounded resolution per request, and a failed one is not cached
  (a stated limit of ``docs/security.md``).
- As the relying party of a peer provider: the peer's token endpoint comes from its resolved
  metadata, and is still fetched under the outbound rules (RFC 9700 section 4.15): a peer
  whose metadata names a private address or plain http is never contacted.
- The Trust Anchor's resolve endpoint (section 8.3): whatever ``sub`` names, the answer is a
  JSON error of section 8.9, never a 5xx.

The fixtures reuse the worlds of ``tests/crossborder_login`` and
``tests/federation_wiring/test_automatic_registration.py``: real apps and keys, the federation
in memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.config import Settings
from idp.federation.crossborder import Peer
from idp.federation.resolver import FederationResolver
from idp.federation.statements import public_jwk
from idp.federation.trust_chain import MAX_FETCHES
from idp.storage.models import ClientAssertionJti, OAuthClient
from tests.crossborder_login.conftest import (
    PeerTokenEndpoint,
    World,
    build_world,
    peer_token_endpoint,
)
from tests.crossborder_login.test_flow import (
    UNTRUSTED,
    choose_peer,
    peer_answers,
    portal_authorize,
    refused,
    sent_to_peer,
)
from tests.federation.builder import TA, Federation
from tests.federation_crossborder.kit import B
from tests.federation_wiring.conftest import ISSUER, federation_app, trust_anchor
from tests.federation_wiring.test_automatic_registration import (
    A_KEY,
    A_KID,
    A,
    authorize_path,
    page_error,
    relying_party_metadata,
    request_claims,
    signed,
)
from tests.federation_wiring.test_automatic_registration import World as RegistrationWorld
from tests.helpers import add_citizen

__all__ = ["federation_app", "peer_token_endpoint", "trust_anchor"]

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_KID = "uy-rsa-1"


# --- as the peer: automatic registration at /authorize ---------------------------------------


@pytest.fixture
def registration(federation_app: Callable[..., FastAPI]) -> Iterator[RegistrationWorld]:
    """This provider as B; relying party A (unknown here) in the in-memory federation. (The
    ``world`` of ``test_automatic_registration``, declared again.)"""
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
        yield RegistrationWorld(app=app, http=http, federation=federation, peer=peer)


def with_an_rsa_key_too(world: RegistrationWorld) -> None:
    """A's resolved metadata: an EC and an RSA key, request objects pinned to ES256."""
    world.federation.entities[A].metadata["openid_relying_party"] = relying_party_metadata(
        jwks={
            "keys": [
                public_jwk(A_KEY, kid=A_KID, alg="ES256"),
                public_jwk(RSA_KEY, kid=RSA_KID, alg="RS256"),
            ]
        },
        request_object_signing_alg="ES256",
    )


def test_a_request_object_in_another_algorithm_than_the_registered_one_is_refused(
    registration: RegistrationWorld,
) -> None:
    """Both keys are A's, and the RS256 signature is good: only the pin refuses it."""
    with_an_rsa_key_too(registration)
    claims = request_claims(registration)
    token = jwt.encode(
        claims, RSA_KEY, algorithm="RS256", headers={"typ": "oauth-authz-req+jwt", "kid": RSA_KID}
    )
    response = registration.http.get(authorize_path(token), follow_redirects=False)
    assert page_error(response) == "invalid_request_object"
    assert registration.row() is None
    assert registration.count(ClientAssertionJti) == 0


def test_a_request_object_in_the_registered_algorithm_is_accepted(
    registration: RegistrationWorld,
) -> None:
    """The control of the test above: the same metadata, an ES256 object."""
    with_an_rsa_key_too(registration)
    response = registration.http.get(
        authorize_path(signed(request_claims(registration))), follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/login?")
    row = registration.row()
    assert row is not None
    assert row.request_object_signing_alg == "ES256"


def test_an_unknown_entity_costs_a_bounded_resolution_on_every_request(
    registration: RegistrationWorld,
) -> None:
    """A stated limit (docs/security.md, "Known limits"): a failed Trust Chain is not cached,
    so every request naming an unknown entity resolves again, each within the fetch budget."""
    del registration.federation.subordinate_claims[(TA, A)]  # A unknown at the Trust Anchor
    fetched = []
    for _ in range(3):
        before = len(registration.federation.calls)
        response = registration.http.get(registration.request().url, follow_redirects=False)
        assert page_error(response) == "invalid_request"
        fetched.append(len(registration.federation.calls) - before)
    assert all(0 < count <= MAX_FETCHES for count in fetched)
    assert registration.count(OAuthClient) == 0


# --- as the relying party of a peer: the outbound rules ---------------------------------------


@pytest.fixture
def strict_world(
    settings_factory: Callable[..., Settings],
    sqlite_database_url: str,
    peer_token_endpoint: tuple[PeerTokenEndpoint, str],
) -> Iterator[World]:
    """The cross-border world, without ``IDP_ALLOW_PRIVATE_NETWORK_FETCHES`` (the federation
    is in memory, so only the peer's token endpoint would be fetched over the network)."""
    endpoint, url = peer_token_endpoint

    def strict(database_url: str, **overrides: Any) -> Settings:
        return settings_factory(
            database_url, **(overrides | {"allow_private_network_fetches": False})
        )

    with build_world(strict, sqlite_database_url, endpoint, f"{url}/token") as world:
        yield world


@pytest.mark.parametrize(
    "token_endpoint",
    [
        pytest.param(None, id="plain-http-on-loopback"),
        pytest.param("https://10.0.0.1/token", id="private-address"),
        pytest.param("https://169.254.169.254/latest/meta-data", id="link-local"),
    ],
)
def test_a_peer_token_endpoint_on_a_private_address_is_never_contacted(
    strict_world: World, token_endpoint: str | None
) -> None:
    world = strict_world
    if token_endpoint is not None:
        world.fed.entities[B].metadata["openid_provider"]["token_endpoint"] = token_endpoint
        world.app.state.provider.federation.forget()
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    refused(world, peer_answers(world), error="access_denied", text=UNTRUSTED)
    assert world.peer.received == []


# --- the Trust Anchor's resolve endpoint ------------------------------------------------------


ODD_SUBJECTS = [
    "https://a..b.example",
    "https://" + "a" * 64 + ".example",
    "https://.",
    "https://[::1",
    "https://10.0.0.1",
    "https://localhost",
    "http://127.0.0.1:1",
    "https://id.example.gub.uy/?x=1",
    "https://id.example.gub.uy/#f",
    "https://user@id.example.gub.uy",
    "not an entity id",
    "ftp://id.example.gub.uy",
]


@pytest.mark.parametrize("subject", ODD_SUBJECTS)
def test_the_resolve_endpoint_answers_odd_subjects_with_a_json_error(
    trust_anchor: TestClient, subject: str
) -> None:
    response = trust_anchor.get(
        "/federation/resolve", params={"sub": subject, "trust_anchor": ISSUER}
    )
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_trust_chain"
