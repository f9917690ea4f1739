"""``/.well-known/openid-federation``: the signed Entity Configuration of a leaf and of a Trust
Anchor (OpenID Federation 1.0 sections 3 and 9), verified with the library's own checks, and
the separation of the federation keys from the OpenID Connect JWKS."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.federation.statements import decode_unverified, verify_entity_statement
from idp.signing_keys import service
from idp.signing_keys.algorithms import SigningAlgorithm
from idp.storage.models import KeyPurpose
from tests.federation_wiring.conftest import ISSUER, TRUST_ANCHOR_ID

WELL_KNOWN = "/.well-known/openid-federation"


def fetch_configuration(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    response = client.get(WELL_KNOWN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/entity-statement+jwt"
    token = response.text
    header, unverified = decode_unverified(token)
    # Section 3.2: the self-signature verifies with the keys the configuration carries.
    claims = verify_entity_statement(
        token,
        jwks=unverified["jwks"],
        now=int(time.time()),
        expected_iss=ISSUER,
        expected_sub=ISSUER,
    )
    return header, claims


def kids(jwks: dict[str, Any]) -> set[str]:
    return {key["kid"] for key in jwks["keys"]}


def test_a_leaf_publishes_a_self_signed_configuration_with_its_provider_metadata(
    leaf: TestClient,
) -> None:
    header, claims = fetch_configuration(leaf)

    assert header["typ"] == "entity-statement+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] in kids(claims["jwks"])
    assert claims["iss"] == claims["sub"] == ISSUER
    assert claims["exp"] - claims["iat"] == 24 * 60 * 60
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["authority_hints"] == [TRUST_ANCHOR_ID]
    assert set(claims["metadata"]) == {
        "federation_entity",
        "openid_provider",
        "openid_relying_party",
    }
    assert claims["metadata"]["federation_entity"] == {
        "organization_name": "Agencia de Gobierno Electrónico",
        "country": "UY",
    }
    # The provider metadata is the discovery document, byte for byte in meaning.
    discovery = leaf.get("/.well-known/openid-configuration").json()
    assert claims["metadata"]["openid_provider"] == discovery
    assert discovery["client_registration_types_supported"] == ["automatic"]
    assert discovery["request_authentication_methods_supported"] == {
        "authorization_endpoint": ["request_object"]
    }

    oidc_jwks = leaf.get("/jwks.json").json()
    assert claims["metadata"]["openid_relying_party"] == {
        "client_name": "Agencia de Gobierno Electrónico",
        "application_type": "web",
        "redirect_uris": [f"{ISSUER}/federation/callback"],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "client_registration_types": ["automatic"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": oidc_jwks,
    }


def test_federation_keys_and_oidc_keys_are_never_published_together(leaf: TestClient) -> None:
    context = leaf.app.state.provider  # type: ignore[attr-defined]
    # A pending (next) key of each purpose is published ahead, in its own set only.
    with context.database.transaction() as session:
        store = service.key_store(context.settings)
        now = context.clock()
        for purpose in (KeyPurpose.OIDC, KeyPurpose.FEDERATION):
            service.generate(
                session, store=store, algorithm=SigningAlgorithm.ES256, now=now, purpose=purpose
            )
    context.keyring.reload()
    context.federation_keyring.reload()

    with context.database.transaction() as session:
        stored = {
            purpose: {key.kid for key in service.list_keys(session, purpose=purpose)}
            for purpose in (KeyPurpose.OIDC, KeyPurpose.FEDERATION)
        }
    _, claims = fetch_configuration(leaf)
    federation_kids = kids(claims["jwks"])
    deadline = time.monotonic() + 5
    while True:  # /jwks.json may be served from bytes rechecked against the key ring
        oidc_kids = kids(leaf.get("/jwks.json").json())
        if oidc_kids == stored[KeyPurpose.OIDC] or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert federation_kids == stored[KeyPurpose.FEDERATION]
    assert len(federation_kids) == 2  # the current ES256 key and the next one
    assert oidc_kids == stored[KeyPurpose.OIDC]
    assert len(oidc_kids) == 3  # current RS256 and ES256, next ES256
    assert not federation_kids & oidc_kids
    assert kids(claims["metadata"]["openid_relying_party"]["jwks"]) == oidc_kids


def test_a_trust_anchor_publishes_its_fetch_list_and_resolve_endpoints_and_no_authority_hints(
    federation_app: Callable[..., FastAPI],
) -> None:
    app = federation_app(
        federation_role="trust_anchor",
        federation_organization_name="Anchor",
        federation_authority_hints=[TRUST_ANCHOR_ID],  # a Trust Anchor ignores them
        federation_statement_lifetime_seconds=3600,
    )
    with TestClient(app, base_url=ISSUER) as client:
        header, claims = fetch_configuration(client)

    assert header["typ"] == "entity-statement+jwt"
    assert "authority_hints" not in claims
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["metadata"] == {
        "federation_entity": {
            "organization_name": "Anchor",
            "country": "UY",
            "federation_fetch_endpoint": f"{ISSUER}/federation/fetch",
            "federation_list_endpoint": f"{ISSUER}/federation/list",
            "federation_resolve_endpoint": f"{ISSUER}/federation/resolve",
        }
    }


def test_a_leaf_without_superiors_has_no_authority_hints(
    federation_app: Callable[..., FastAPI],
) -> None:
    with TestClient(federation_app(), base_url=ISSUER) as client:
        _, claims = fetch_configuration(client)
    assert "authority_hints" not in claims


def test_without_federation_there_is_no_configuration_and_no_federation_key(
    client: TestClient,
) -> None:
    for accept in ("application/json", "text/html"):
        response = client.get(WELL_KNOWN, headers={"accept": accept})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"] == "not_found"
    for path in ("/federation/fetch?sub=https://op.example.org", "/federation/list"):
        assert client.get(path).status_code == 404
    context = client.app.state.provider  # type: ignore[attr-defined]
    with context.database.transaction() as session:
        assert not service.list_keys(session, purpose=KeyPurpose.FEDERATION)
