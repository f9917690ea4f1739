"""A Trust Anchor's fetch and list endpoints (OpenID Federation 1.0 sections 8.1, 8.2 and 8.9):
Subordinate Statements signed with its federation key, the list of its Subordinates, and the
JSON error responses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from idp.federation import subordinates
from idp.federation.statements import (
    decode_unverified,
    public_jwk,
    verify_entity_statement,
)
from tests.federation_wiring.conftest import ISSUER

OP = "https://id.example.gub.uy"
RP = "https://portal.example.gub.uy"
POLICY = {"openid_provider": {"id_token_signing_alg_values_supported": {"subset_of": ["RS256"]}}}
CONSTRAINTS = {"max_path_length": 0, "allowed_entity_types": ["openid_provider"]}


def entity_jwks() -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    return {"keys": [public_jwk(key, kid="entity-key-1", alg="ES256")]}


def add(client: TestClient, entity_id: str, **values: Any) -> None:
    context = client.app.state.provider  # type: ignore[attr-defined]
    arguments: dict[str, Any] = {
        "jwks": entity_jwks(),
        "metadata_policy": {},
        "constraints": {},
        "metadata": None,
        "entity_types": ["openid_provider"],
    }
    arguments.update(values)
    with context.database.transaction() as session:
        subordinates.add_subordinate(
            session, entity_id=entity_id, issuer=ISSUER, now=context.clock(), **arguments
        )


def own_jwks(client: TestClient) -> dict[str, Any]:
    _, claims = decode_unverified(client.get("/.well-known/openid-federation").text)
    jwks: dict[str, Any] = claims["jwks"]
    return jwks


def test_fetch_answers_a_signed_subordinate_statement(trust_anchor: TestClient) -> None:
    jwks = entity_jwks()
    override = {"openid_provider": {"service_documentation": "https://example.gub.uy/doc"}}
    add(
        trust_anchor,
        OP,
        jwks=jwks,
        metadata_policy=POLICY,
        constraints=CONSTRAINTS,
        metadata=override,
    )

    response = trust_anchor.get("/federation/fetch", params={"sub": OP})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/entity-statement+jwt"
    header, _ = decode_unverified(response.text)
    assert header["typ"] == "entity-statement+jwt"
    claims = verify_entity_statement(
        response.text,
        jwks=own_jwks(trust_anchor),
        now=int(time.time()),
        expected_iss=ISSUER,
        expected_sub=OP,
    )
    assert claims["jwks"] == jwks
    assert claims["metadata_policy"] == POLICY
    assert claims["constraints"] == CONSTRAINTS
    assert claims["metadata"] == override
    assert claims["source_endpoint"] == f"{ISSUER}/federation/fetch"
    assert claims["exp"] - claims["iat"] == 24 * 60 * 60
    assert "authority_hints" not in claims


def test_fetch_leaves_out_empty_policy_and_constraints(trust_anchor: TestClient) -> None:
    add(trust_anchor, OP)
    _, claims = decode_unverified(trust_anchor.get("/federation/fetch", params={"sub": OP}).text)
    assert set(claims) == {"iss", "sub", "iat", "exp", "jwks", "source_endpoint"}


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("", 400, "invalid_request"),
        ("?sub=", 400, "invalid_request"),
        (f"?sub={OP}&sub={RP}", 400, "invalid_request"),
        ("?sub=https://unknown.example.org", 404, "not_found"),
        (f"?sub={ISSUER}", 404, "not_found"),
    ],
)
def test_fetch_errors_are_the_json_of_section_8_9(
    trust_anchor: TestClient, query: str, status: int, error: str
) -> None:
    add(trust_anchor, OP)
    response = trust_anchor.get(f"/federation/fetch{query}", headers={"accept": "text/html"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == error
    assert set(response.json()) == {"error", "error_description"}


def test_a_removed_subordinate_is_neither_fetched_nor_listed(trust_anchor: TestClient) -> None:
    add(trust_anchor, OP)
    add(trust_anchor, RP, entity_types=["openid_relying_party"])
    context = trust_anchor.app.state.provider  # type: ignore[attr-defined]
    with context.database.transaction() as session:
        subordinates.remove_subordinate(session, entity_id=OP, now=context.clock())

    assert trust_anchor.get("/federation/fetch", params={"sub": OP}).status_code == 404
    assert trust_anchor.get("/federation/list").json() == [RP]


def test_list_answers_the_entity_ids_filtered_by_entity_type(trust_anchor: TestClient) -> None:
    add(trust_anchor, RP, entity_types=["openid_relying_party"])
    add(trust_anchor, OP, entity_types=["openid_provider", "federation_entity"])

    everything = trust_anchor.get("/federation/list")
    assert everything.status_code == 200
    assert everything.headers["content-type"] == "application/json"
    assert everything.json() == [OP, RP]
    providers = trust_anchor.get("/federation/list", params={"entity_type": "openid_provider"})
    assert providers.json() == [OP]
    parties = trust_anchor.get("/federation/list", params={"entity_type": "openid_relying_party"})
    assert parties.json() == [RP]
    assert trust_anchor.get("/federation/list?entity_type=oauth_resource").json() == []


@pytest.mark.parametrize("parameter", ["trust_marked=true", "trust_mark_type=x", "intermediate=1"])
def test_list_refuses_filters_it_does_not_implement(
    trust_anchor: TestClient, parameter: str
) -> None:
    response = trust_anchor.get(f"/federation/list?{parameter}")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_parameter"


def test_a_leaf_has_no_fetch_or_list_endpoint(leaf: TestClient) -> None:
    for path in (f"/federation/fetch?sub={OP}", "/federation/list"):
        response = leaf.get(path, headers={"accept": "text/html"})
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
