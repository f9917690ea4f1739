"""A federation of two real processes on 127.0.0.1: a Trust Anchor and a leaf provider, each an
``idp serve`` with its own SQLite database and keys, set up only with the operator's commands
(``idp db upgrade``, ``idp keys rotate --purpose federation``, ``idp keys export-jwks
--purpose federation``, ``idp federation add-subordinate``). A relying party that pins only
the Trust Anchor's federation keys resolves the leaf's Trust Chain over HTTP with the
library's resolver and fetcher, and gets the leaf's provider metadata with the Trust Anchor's
policy applied."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from idp.config import Settings
from idp.federation import TrustChainError, resolve_trust_chain
from idp.federation.fetcher import HttpFetcher
from idp.federation.statements import Reason, decode_unverified
from tests.support.federation_processes import Entity, entity

POLICY = {
    "openid_provider": {
        "id_token_signing_alg_values_supported": {"subset_of": ["RS256", "PS256"]},
        "token_endpoint_auth_methods_supported": {
            "subset_of": ["private_key_jwt", "client_secret_basic"],
            "superset_of": ["private_key_jwt"],
        },
        "contacts": {"add": ["federacion@trust-anchor.example.org"]},
    }
}
CONSTRAINTS = {
    "max_path_length": 0,
    "allowed_entity_types": ["openid_provider", "openid_relying_party"],
}
OVERRIDE = {"openid_provider": {"service_documentation": "https://uy.example.org/docs"}}


@dataclass
class Federation:
    trust_anchor: Entity
    leaf: Entity
    trust_anchor_jwks: dict[str, Any]
    leaf_jwks: dict[str, Any]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    folder = tmp_path_factory.mktemp("federation")
    trust_anchor = entity(
        "trust-anchor", folder, role="trust_anchor", organization_name="Federación regional"
    )
    # the Trust Anchor's resolve endpoint fetches the leaf's configuration on 127.0.0.1
    trust_anchor.env["IDP_ALLOW_PRIVATE_NETWORK_FETCHES"] = "true"
    leaf = entity(
        "leaf",
        folder,
        authority_hints=json.dumps([trust_anchor.entity_id]),
        organization_name="Identidad digital UY",
    )
    try:
        for member in (trust_anchor, leaf):
            member.idp("db", "upgrade")
            # Federation keys first, to pin them out of band; the OpenID Connect keys are
            # created by the development start-up.
            member.idp("keys", "rotate", "--purpose", "federation", "--json")
        leaf_jwks = leaf.idp("keys", "export-jwks", "--purpose", "federation")
        trust_anchor_jwks = trust_anchor.idp("keys", "export-jwks", "--purpose", "federation")
        files = {"jwks": leaf_jwks, "policy": POLICY, "constraints": CONSTRAINTS, "md": OVERRIDE}
        for name, document in files.items():
            (folder / f"{name}.json").write_text(json.dumps(document), encoding="utf-8")
        trust_anchor.idp(
            "federation",
            "add-subordinate",
            leaf.entity_id,
            "--jwks-file",
            str(folder / "jwks.json"),
            "--policy-file",
            str(folder / "policy.json"),
            "--constraints-file",
            str(folder / "constraints.json"),
            "--metadata-file",
            str(folder / "md.json"),
            "--json",
        )
        for member in (trust_anchor, leaf):
            member.start()
        for member in (trust_anchor, leaf):
            member.wait_until_ready()
        yield Federation(trust_anchor, leaf, trust_anchor_jwks, leaf_jwks)
    finally:
        for member in (trust_anchor, leaf):
            member.stop()


def relying_party_fetcher() -> HttpFetcher:
    """The outbound rules of the provider, with loopback fetches allowed (both are local)."""
    return HttpFetcher(Settings(_env_file=None, allow_private_network_fetches=True))  # type: ignore[call-arg]


def test_the_leafs_trust_chain_resolves_with_the_trust_anchors_policy_applied(
    federation: Federation,
) -> None:
    leaf_id = federation.leaf.entity_id
    anchor_id = federation.trust_anchor.entity_id

    chain = resolve_trust_chain(
        leaf_id,
        trust_anchors={anchor_id: federation.trust_anchor_jwks},
        fetcher=relying_party_fetcher(),
        now=int(time.time()),
    )

    assert chain.entity_id == leaf_id
    assert chain.trust_anchor_id == anchor_id
    assert len(chain.statements) == 3  # leaf configuration, TA about leaf, TA configuration
    assert chain.leaf_jwks == federation.leaf_jwks
    assert [decode_unverified(token)[1]["iss"] for token in chain.statements] == [
        leaf_id,
        anchor_id,
        anchor_id,
    ]

    discovery = httpx.get(f"{leaf_id}/.well-known/openid-configuration", timeout=10).json()
    expected = {
        **discovery,
        "id_token_signing_alg_values_supported": ["RS256"],  # ES256 is not in subset_of
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "contacts": ["federacion@trust-anchor.example.org"],
        "service_documentation": "https://uy.example.org/docs",
    }
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert chain.metadata == expected
    assert chain.metadata["issuer"] == leaf_id
    assert chain.resolved_metadata("federation_entity") == {
        "organization_name": "Identidad digital UY",
        "country": "UY",
    }
    relying_party = chain.resolved_metadata("openid_relying_party")
    assert relying_party["redirect_uris"] == [f"{leaf_id}/federation/callback"]
    assert relying_party["jwks"] == httpx.get(f"{leaf_id}/jwks.json", timeout=10).json()


def test_the_trust_anchor_lists_the_leaf(federation: Federation) -> None:
    anchor_id = federation.trust_anchor.entity_id
    listed = httpx.get(f"{anchor_id}/federation/list", timeout=10)
    assert listed.json() == [federation.leaf.entity_id]
    providers = httpx.get(
        f"{anchor_id}/federation/list", params={"entity_type": "openid_relying_party"}, timeout=10
    )
    assert providers.json() == []


def test_the_trust_anchor_resolves_the_leaf_in_one_signed_answer(
    federation: Federation,
) -> None:
    """Section 8.3: metadata with the policy applied and the chain, signed by the Trust
    Anchor (typ resolve-response+jwt), checkable with its pinned keys alone."""
    leaf_id = federation.leaf.entity_id
    anchor_id = federation.trust_anchor.entity_id
    answer = httpx.get(
        f"{anchor_id}/federation/resolve",
        params={"sub": leaf_id, "trust_anchor": anchor_id, "entity_type": "openid_provider"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/resolve-response+jwt"
    header = jwt.get_unverified_header(answer.text)
    assert header["typ"] == "resolve-response+jwt"
    key = jwt.PyJWKSet.from_dict(federation.trust_anchor_jwks)[header["kid"]]
    claims = jwt.decode(answer.text, key.key, algorithms=["ES256"])
    assert claims["iss"] == anchor_id
    assert claims["sub"] == leaf_id
    assert set(claims["metadata"]) == {"openid_provider"}
    provider = claims["metadata"]["openid_provider"]
    assert provider["id_token_signing_alg_values_supported"] == ["RS256"]  # policy applied
    assert provider["service_documentation"] == "https://uy.example.org/docs"
    assert len(claims["trust_chain"]) == 3
    assert claims["exp"] > claims["iat"]
    configuration = httpx.get(f"{anchor_id}/.well-known/openid-federation", timeout=10).text
    anchor_metadata = decode_unverified(configuration)[1]["metadata"]["federation_entity"]
    assert anchor_metadata["federation_resolve_endpoint"] == f"{anchor_id}/federation/resolve"


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"sub": "LEAF"}, 400, "invalid_request"),
        ({"trust_anchor": "ANCHOR"}, 400, "invalid_request"),
        (
            {"sub": "LEAF", "trust_anchor": "https://other-anchor.example.org"},
            404,
            "invalid_trust_anchor",
        ),
        (
            {"sub": "http://127.0.0.1:9/nobody", "trust_anchor": "ANCHOR"},
            404,
            "invalid_trust_chain",
        ),
        (
            {"sub": "LEAF", "trust_anchor": "ANCHOR", "entity_type": "oauth_resource"},
            404,
            "not_found",
        ),
    ],
)
def test_the_resolve_endpoint_refuses_with_the_errors_of_section_8_9(
    federation: Federation, params: dict[str, str], status: int, error: str
) -> None:
    names = {"LEAF": federation.leaf.entity_id, "ANCHOR": federation.trust_anchor.entity_id}
    query = {name: names.get(value, value) for name, value in params.items()}
    answer = httpx.get(
        f"{federation.trust_anchor.entity_id}/federation/resolve", params=query, timeout=10
    )
    assert answer.status_code == status
    assert answer.json()["error"] == error


def test_after_the_leaf_rotates_its_keys_the_trust_anchor_must_state_the_new_ones(
    federation: Federation, tmp_path: Path
) -> None:
    leaf, anchor = federation.leaf, federation.trust_anchor
    trust_anchors = {anchor.entity_id: federation.trust_anchor_jwks}
    [new_key] = leaf.idp(
        "keys", "rotate", "--purpose", "federation", "--publish-ahead", "0", "--json"
    )
    deadline = time.monotonic() + 10
    while True:  # the leaf's worker sees the new key within IDP_KEY_REFRESH_SECONDS
        configuration = httpx.get(f"{leaf.entity_id}/.well-known/openid-federation", timeout=10)
        header, _ = decode_unverified(configuration.text)
        if header["kid"] == new_key["kid"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert header["kid"] == new_key["kid"]

    # The Trust Anchor still states only the old key: the leaf's new signature is not trusted.
    with pytest.raises(TrustChainError) as stale:
        resolve_trust_chain(
            leaf.entity_id,
            trust_anchors=trust_anchors,
            fetcher=relying_party_fetcher(),
            now=int(time.time()),
        )
    assert stale.value.reason is Reason.UNKNOWN_KID

    rotated = leaf.idp("keys", "export-jwks", "--purpose", "federation")
    assert {key["kid"] for key in rotated["keys"]} == {
        new_key["kid"],
        *(key["kid"] for key in federation.leaf_jwks["keys"]),
    }
    (tmp_path / "rotated.json").write_text(json.dumps(rotated), encoding="utf-8")
    anchor.idp(
        "federation",
        "update-subordinate",
        leaf.entity_id,
        "--jwks-file",
        str(tmp_path / "rotated.json"),
        "--json",
    )
    chain = resolve_trust_chain(
        leaf.entity_id,
        trust_anchors=trust_anchors,
        fetcher=relying_party_fetcher(),
        now=int(time.time()),
    )
    assert chain.leaf_jwks == rotated
    assert chain.metadata["contacts"] == ["federacion@trust-anchor.example.org"]  # policy kept
    federation.leaf_jwks = rotated


def test_a_chain_pinned_to_other_keys_or_through_a_removed_subordinate_is_refused(
    federation: Federation,
) -> None:
    leaf_id = federation.leaf.entity_id
    anchor_id = federation.trust_anchor.entity_id

    with pytest.raises(TrustChainError) as wrong_pin:
        resolve_trust_chain(
            leaf_id,
            trust_anchors={anchor_id: federation.leaf_jwks},  # not the Trust Anchor's keys
            fetcher=relying_party_fetcher(),
            now=int(time.time()),
        )
    assert wrong_pin.value.reason in (Reason.UNKNOWN_KID, Reason.BAD_SIGNATURE)

    federation.trust_anchor.idp("federation", "remove", leaf_id, "--yes", "--json")
    with pytest.raises(TrustChainError) as removed:
        resolve_trust_chain(
            leaf_id,
            trust_anchors={anchor_id: federation.trust_anchor_jwks},
            fetcher=relying_party_fetcher(),
            now=int(time.time()),
        )
    assert removed.value.reason is Reason.FETCH_FAILED
    assert "HTTP 404" in removed.value.message
