"""Trust Chain resolution and validation (OpenID Federation 1.0, sections 6.2 and 10)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from idp.federation.statements import (
    ENTITY_STATEMENT_TYP,
    MAX_STATEMENT_LENGTH,
    Reason,
    TrustChainError,
    decode_unverified,
    public_jwk,
    sign_entity_statement,
)
from idp.federation.trust_chain import TrustChain, resolve_trust_chain, validate_trust_chain
from tests.federation.builder import (
    EXPECTED_OP_METADATA,
    INTERMEDIATE,
    LEAF,
    LIFETIME,
    NOW,
    TA,
    Federation,
    new_ec_key,
    three_level_federation,
)


def resolve(federation: Federation, **kwargs: Any) -> TrustChain:
    kwargs.setdefault("trust_anchors", federation.trust_anchors())
    kwargs.setdefault("now", federation.now)
    return resolve_trust_chain(LEAF, fetcher=federation, **kwargs)


def refused(federation: Federation, reason: Reason, **kwargs: Any) -> TrustChainError:
    with pytest.raises(TrustChainError) as caught:
        resolve(federation, **kwargs)
    assert caught.value.reason is reason, caught.value
    return caught.value


def resign(token: str, *, key: Any, kid: str, header: dict[str, Any] | None = None, **claims: Any):
    """Re-sign a statement's claims (changed by ``claims``) with another key or header."""
    _, payload = decode_unverified(token)
    payload.update(claims)
    headers = {"typ": ENTITY_STATEMENT_TYP, "kid": kid, **(header or {})}
    return jwt.encode(payload, key, algorithm="ES256", headers=headers)


@pytest.fixture
def federation() -> Federation:
    return three_level_federation()


# --- the happy path ------------------------------------------------------------------------


def test_resolves_the_chain_and_the_metadata(federation: Federation) -> None:
    chain = resolve(federation)

    assert chain.entity_id == LEAF
    assert chain.trust_anchor_id == TA
    assert chain.entity_type == "openid_provider"
    assert len(chain.statements) == 4
    claims = [decode_unverified(token)[1] for token in chain.statements]
    assert [(c["iss"], c["sub"]) for c in claims] == [
        (LEAF, LEAF),
        (INTERMEDIATE, LEAF),
        (TA, INTERMEDIATE),
        (TA, TA),
    ]
    assert chain.expires_at == NOW + LIFETIME
    assert chain.metadata == EXPECTED_OP_METADATA
    assert chain.leaf_jwks == federation.entities[LEAF].jwks
    assert chain.resolved_metadata("federation_entity") == {"organization_name": "OP"}


def test_the_chain_expires_at_the_earliest_exp(federation: Federation) -> None:
    federation.subordinate(TA, INTERMEDIATE, exp=NOW + 600)
    assert resolve(federation).expires_at == NOW + 600


def test_resolved_metadata_of_an_absent_entity_type_is_refused(federation: Federation) -> None:
    chain = resolve(federation)
    with pytest.raises(TrustChainError) as caught:
        chain.resolved_metadata("openid_relying_party")
    assert caught.value.reason is Reason.MISSING_ENTITY_TYPE


def test_resolving_for_an_absent_entity_type_is_refused(federation: Federation) -> None:
    refused(federation, Reason.MISSING_ENTITY_TYPE, entity_type="openid_relying_party")


def test_a_resolved_chain_validates_again_as_a_sequence(federation: Federation) -> None:
    chain = resolve(federation)
    again = validate_trust_chain(
        chain.statements, trust_anchors=federation.trust_anchors(), now=NOW
    )
    assert again.metadata == chain.metadata
    assert again.expires_at == chain.expires_at


def test_a_leaf_directly_under_the_trust_anchor() -> None:
    federation = Federation()
    federation.add(TA, authority=True)
    federation.add(LEAF, authority_hints=[TA], metadata={"openid_provider": {"issuer": LEAF}})
    federation.subordinate(TA, LEAF)
    chain = resolve(federation)
    assert len(chain.statements) == 3
    assert chain.metadata == {"issuer": LEAF}


def test_the_shortest_valid_chain_is_chosen(federation: Federation) -> None:
    federation.entities[LEAF].authority_hints = [INTERMEDIATE, TA]
    federation.subordinate(TA, LEAF)
    chain = resolve(federation)
    assert len(chain.statements) == 3
    assert chain.metadata["organization_name"] == "OP (self-declared)"


def test_a_broken_authority_hint_does_not_hide_a_valid_one(federation: Federation) -> None:
    federation.entities[LEAF].authority_hints = ["https://gone.example.org", INTERMEDIATE]
    chain = resolve(federation)
    assert chain.trust_anchor_id == TA


def test_statements_are_fetched_once(federation: Federation) -> None:
    federation.add("https://second.example.org", authority_hints=[TA], authority=True)
    federation.subordinate(TA, "https://second.example.org")
    federation.subordinate("https://second.example.org", LEAF, exp=NOW - 10_000)
    federation.entities[LEAF].authority_hints = ["https://second.example.org", INTERMEDIATE]
    resolve(federation)
    assert len(federation.calls) == len(set(federation.calls))


# --- statements that must be refused -------------------------------------------------------


def test_wrong_typ_is_refused(federation: Federation) -> None:
    leaf = federation.entities[LEAF]
    federation.configuration_overrides[LEAF] = jwt.encode(
        federation.configuration_claims(LEAF),
        leaf.private_key,
        algorithm="ES256",
        headers={"typ": "JWT", "kid": leaf.kid},
    )
    refused(federation, Reason.WRONG_TYP)


def test_an_expired_statement_is_refused(federation: Federation) -> None:
    federation.subordinate(INTERMEDIATE, LEAF, exp=NOW - 3600)
    refused(federation, Reason.EXPIRED)


def test_an_expired_trust_anchor_configuration_is_refused(federation: Federation) -> None:
    federation.entities[TA].extra_claims["exp"] = NOW - 3600
    federation.entities[TA].extra_claims["iat"] = NOW - 7200
    refused(federation, Reason.EXPIRED)


def test_a_statement_issued_in_the_future_is_refused(federation: Federation) -> None:
    federation.subordinate(TA, INTERMEDIATE, iat=NOW + 3600)
    refused(federation, Reason.ISSUED_IN_FUTURE)


def test_a_statement_about_another_subject_is_a_broken_link(federation: Federation) -> None:
    federation.subordinate(INTERMEDIATE, LEAF, sub="https://other.example.org")
    refused(federation, Reason.BROKEN_LINK)


def test_a_statement_by_another_issuer_is_a_broken_link(federation: Federation) -> None:
    federation.subordinate(TA, INTERMEDIATE, iss="https://other.example.org")
    error = refused(federation, Reason.BROKEN_LINK)
    assert "other.example.org" in str(error)


def test_a_subordinate_statement_signed_by_a_wrong_key_is_refused(
    federation: Federation,
) -> None:
    intermediate = federation.entities[INTERMEDIATE]
    federation.statement_overrides[(INTERMEDIATE, LEAF)] = resign(
        federation.statement(INTERMEDIATE, LEAF), key=new_ec_key(), kid=intermediate.kid
    )
    refused(federation, Reason.BAD_SIGNATURE)


def test_an_impostor_leaf_configuration_is_refused(federation: Federation) -> None:
    """Someone serving the leaf's configuration with their own keys: self-consistent, but the
    superior attests other keys (section 10.2: ES[0] is signed by a key in ES[1]["jwks"])."""
    impostor_key = new_ec_key()
    kid = federation.entities[LEAF].kid
    claims = federation.configuration_claims(LEAF)
    claims["jwks"] = {"keys": [public_jwk(impostor_key, kid=kid, alg="ES256")]}
    federation.configuration_overrides[LEAF] = sign_entity_statement(
        claims, private_key=impostor_key, kid=kid, alg="ES256"
    )
    refused(federation, Reason.BAD_SIGNATURE)


def test_an_impostor_intermediate_is_refused(federation: Federation) -> None:
    """The intermediate's keys are those the Trust Anchor attests, not those it claims."""
    federation.statement_overrides[(TA, INTERMEDIATE)] = federation.statement(TA, INTERMEDIATE)
    # From now on the intermediate's configuration and statements use another key.
    federation.entities[INTERMEDIATE].private_key = new_ec_key()
    refused(federation, Reason.BAD_SIGNATURE)


def test_a_wrong_trust_anchor_key_is_refused(federation: Federation) -> None:
    kid = federation.entities[TA].kid
    pinned = {TA: {"keys": [public_jwk(new_ec_key(), kid=kid, alg="ES256")]}}
    refused(federation, Reason.BAD_SIGNATURE, trust_anchors=pinned)


def test_an_unknown_trust_anchor_is_refused(federation: Federation) -> None:
    federation.add("https://other-ta.example.org", authority=True)
    pinned = federation.trust_anchors("https://other-ta.example.org")
    refused(federation, Reason.UNKNOWN_TRUST_ANCHOR, trust_anchors=pinned)


def test_no_trust_anchor_configured_is_refused(federation: Federation) -> None:
    refused(federation, Reason.UNKNOWN_TRUST_ANCHOR, trust_anchors={})


def test_an_authority_hint_loop_is_refused() -> None:
    federation = Federation()
    federation.add(TA, authority=True)
    federation.add(
        "https://a.example.org", authority_hints=["https://b.example.org"], authority=True
    )
    federation.add(
        "https://b.example.org", authority_hints=["https://a.example.org"], authority=True
    )
    federation.add(LEAF, authority_hints=["https://a.example.org"])
    federation.subordinate("https://a.example.org", LEAF)
    federation.subordinate("https://b.example.org", "https://a.example.org")
    federation.subordinate("https://a.example.org", "https://b.example.org")
    refused(federation, Reason.LOOP)


def test_a_chain_longer_than_max_depth_is_refused(federation: Federation) -> None:
    refused(federation, Reason.PATH_TOO_LONG, max_depth=1)
    assert resolve(federation, max_depth=2).trust_anchor_id == TA


def test_max_path_length_is_enforced(federation: Federation) -> None:
    federation.subordinate(TA, INTERMEDIATE, constraints={"max_path_length": 0})
    error = refused(federation, Reason.PATH_TOO_LONG)
    assert "allows 0 intermediates" in str(error)


I1, I2 = "https://i1.example.org", "https://i2.example.org"


@pytest.mark.parametrize(
    ("limits", "valid"),
    [  # the examples of section 6.2.1: LE <- I1 <- I2 <- TA
        ({TA: 2}, True),
        ({TA: 2, I2: 1}, True),
        ({I1: 0}, True),
        ({TA: 1}, False),
        ({I2: 0}, False),
    ],
)
def test_max_path_length_counts_the_intermediates_below_the_issuer(
    limits: dict[str, int], valid: bool
) -> None:
    federation = Federation()
    federation.add(TA, authority=True)
    federation.add(I2, authority_hints=[TA], authority=True)
    federation.add(I1, authority_hints=[I2], authority=True)
    federation.add(LEAF, authority_hints=[I1], metadata={"openid_provider": {}})
    for issuer, subject in ((TA, I2), (I2, I1), (I1, LEAF)):
        federation.subordinate(issuer, subject)
        if issuer in limits:
            federation.subordinate(issuer, subject, constraints={"max_path_length": limits[issuer]})
    if valid:
        assert len(resolve(federation).statements) == 5
    else:
        refused(federation, Reason.PATH_TOO_LONG)


def test_a_fetch_budget_bounds_the_work(federation: Federation) -> None:
    refused(federation, Reason.FETCH_LIMIT, max_fetches=3)


def test_an_unreachable_leaf_is_a_failed_fetch(federation: Federation) -> None:
    with pytest.raises(TrustChainError) as caught:
        resolve_trust_chain(
            "https://gone.example.org",
            trust_anchors=federation.trust_anchors(),
            fetcher=federation,
            now=NOW,
        )
    assert caught.value.reason is Reason.FETCH_FAILED


def test_any_fetcher_failure_becomes_a_failed_fetch(federation: Federation) -> None:
    class Broken:
        def fetch_entity_configuration(self, entity_id: str) -> str:
            raise OSError("connection reset")

        def fetch_subordinate_statement(self, fetch_endpoint: str, issuer: str, subject: str):
            raise AssertionError("not reached")

    with pytest.raises(TrustChainError) as caught:
        resolve_trust_chain(
            LEAF, trust_anchors=federation.trust_anchors(), fetcher=Broken(), now=NOW
        )
    assert caught.value.reason is Reason.FETCH_FAILED


def test_an_oversized_statement_is_refused(federation: Federation) -> None:
    federation.entities[LEAF].metadata["openid_provider"]["padding"] = "x" * MAX_STATEMENT_LENGTH
    refused(federation, Reason.TOO_LARGE)


def test_a_superior_without_fetch_endpoint_is_a_broken_link(federation: Federation) -> None:
    del federation.entities[INTERMEDIATE].metadata["federation_entity"]
    refused(federation, Reason.BROKEN_LINK)


# --- metadata policy in a chain ------------------------------------------------------------


def test_conflicting_policies_invalidate_the_chain(federation: Federation) -> None:
    federation.subordinate(
        INTERMEDIATE,
        LEAF,
        metadata_policy={
            "openid_provider": {"token_endpoint_auth_methods_supported": {"default": ["none"]}}
        },
    )
    refused(federation, Reason.POLICY_CONFLICT)


def test_metadata_that_violates_the_policy_invalidates_the_chain(
    federation: Federation,
) -> None:
    del federation.entities[LEAF].metadata["openid_provider"]["subject_types_supported"]
    refused(federation, Reason.POLICY_VIOLATION)


def test_an_unknown_critical_operator_invalidates_the_chain(federation: Federation) -> None:
    federation.subordinate(
        INTERMEDIATE,
        LEAF,
        metadata_policy={"openid_provider": {"op_policy_uri": {"regexp": "^https://"}}},
        metadata_policy_crit=["regexp"],
    )
    refused(federation, Reason.UNKNOWN_CRITICAL_OPERATOR)


def test_an_operator_made_critical_by_another_statement_counts(federation: Federation) -> None:
    federation.subordinate(
        TA,
        INTERMEDIATE,
        metadata_policy={"openid_provider": {"op_policy_uri": {"regexp": "^https://"}}},
    )
    federation.subordinate(INTERMEDIATE, LEAF, metadata_policy_crit=["regexp"])
    refused(federation, Reason.UNKNOWN_CRITICAL_OPERATOR)


def test_an_unknown_non_critical_operator_is_ignored(federation: Federation) -> None:
    policy = federation.subordinate_claims[(INTERMEDIATE, LEAF)]["metadata_policy"]
    policy["openid_provider"]["op_policy_uri"] = {"regexp": "^https://"}
    policy["openid_provider"]["subject_types_supported"]["regexp"] = ".*"
    assert resolve(federation).metadata == EXPECTED_OP_METADATA


def test_the_superiors_metadata_only_applies_to_present_entity_types(
    federation: Federation,
) -> None:
    federation.subordinate(
        INTERMEDIATE,
        LEAF,
        metadata={
            "openid_provider": {"organization_name": "OP (attested)"},
            "openid_relying_party": {"client_name": "not an RP"},
        },
    )
    chain = resolve(federation)
    assert "openid_relying_party" not in chain.all_metadata


def test_metadata_policy_in_an_entity_configuration_is_refused(federation: Federation) -> None:
    federation.entities[LEAF].extra_claims["metadata_policy"] = {}
    refused(federation, Reason.MALFORMED)


def test_the_provider_issuer_must_be_the_entity_identifier(federation: Federation) -> None:
    federation.entities[LEAF].metadata["openid_provider"]["issuer"] = "https://evil.example.org"
    refused(federation, Reason.INVALID_METADATA)


# --- constraints ---------------------------------------------------------------------------


def test_naming_constraints_permit_the_chain(federation: Federation) -> None:
    federation.subordinate(
        TA, INTERMEDIATE, constraints={"naming_constraints": {"permitted": [".example.org"]}}
    )
    assert resolve(federation).trust_anchor_id == TA


def test_an_excluded_name_is_refused(federation: Federation) -> None:
    federation.subordinate(
        TA,
        INTERMEDIATE,
        constraints={
            "naming_constraints": {"permitted": [".example.org"], "excluded": ["op.example.org"]}
        },
    )
    refused(federation, Reason.CONSTRAINT_VIOLATION)


def test_a_name_outside_the_permitted_subtrees_is_refused(federation: Federation) -> None:
    federation.subordinate(
        TA, INTERMEDIATE, constraints={"naming_constraints": {"permitted": [".example.com"]}}
    )
    refused(federation, Reason.CONSTRAINT_VIOLATION)


def test_a_domain_constraint_does_not_match_the_domain_itself() -> None:
    federation = Federation()
    federation.add(TA, authority=True)
    federation.add("https://example.org", authority_hints=[TA], metadata={"openid_provider": {}})
    federation.subordinate(
        TA,
        "https://example.org",
        constraints={"naming_constraints": {"permitted": [".example.org"]}},
    )
    with pytest.raises(TrustChainError) as caught:
        resolve_trust_chain(
            "https://example.org",
            trust_anchors=federation.trust_anchors(),
            fetcher=federation,
            now=NOW,
        )
    assert caught.value.reason is Reason.CONSTRAINT_VIOLATION


def test_allowed_entity_types_remove_other_types(federation: Federation) -> None:
    federation.entities[LEAF].metadata["openid_relying_party"] = {"client_name": "also an RP"}
    federation.subordinate(
        TA, INTERMEDIATE, constraints={"allowed_entity_types": ["openid_provider"]}
    )
    chain = resolve(federation)
    assert set(chain.all_metadata) == {"openid_provider", "federation_entity"}


def test_allowed_entity_types_can_refuse_the_requested_type(federation: Federation) -> None:
    federation.subordinate(
        TA, INTERMEDIATE, constraints={"allowed_entity_types": ["openid_relying_party"]}
    )
    refused(federation, Reason.CONSTRAINT_VIOLATION)


# --- validating a given sequence (section 10.2) ---------------------------------------------


def test_a_sequence_with_a_missing_link_is_refused(federation: Federation) -> None:
    statements = list(resolve(federation).statements)
    del statements[1]
    with pytest.raises(TrustChainError) as caught:
        validate_trust_chain(statements, trust_anchors=federation.trust_anchors(), now=NOW)
    assert caught.value.reason is Reason.BROKEN_LINK


def test_a_sequence_not_ending_at_a_trust_anchor_is_refused(federation: Federation) -> None:
    statements = resolve(federation).statements[:-1]
    with pytest.raises(TrustChainError) as caught:
        validate_trust_chain(statements, trust_anchors=federation.trust_anchors(), now=NOW)
    assert caught.value.reason is Reason.BROKEN_LINK


def test_validation_happens_at_the_given_time(federation: Federation) -> None:
    statements = resolve(federation).statements
    with pytest.raises(TrustChainError) as caught:
        validate_trust_chain(
            statements, trust_anchors=federation.trust_anchors(), now=NOW + LIFETIME + 60
        )
    assert caught.value.reason is Reason.EXPIRED


def test_a_too_long_sequence_is_refused(federation: Federation) -> None:
    statements = resolve(federation).statements
    with pytest.raises(TrustChainError) as caught:
        validate_trust_chain(
            statements, trust_anchors=federation.trust_anchors(), now=NOW, max_length=3
        )
    assert caught.value.reason is Reason.PATH_TOO_LONG


# --- algorithm and header attacks inside a chain -------------------------------------------


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_alg_none_in_a_chain_is_refused(federation: Federation) -> None:
    federation.statement_overrides[(INTERMEDIATE, LEAF)] = _unsigned(
        federation.statement_claims(INTERMEDIATE, LEAF),
        {"alg": "none", "typ": ENTITY_STATEMENT_TYP, "kid": federation.entities[INTERMEDIATE].kid},
    )
    refused(federation, Reason.UNSUPPORTED_ALG)


def test_a_jwk_header_does_not_replace_the_attested_key(federation: Federation) -> None:
    attacker = new_ec_key()
    kid = federation.entities[INTERMEDIATE].kid
    federation.statement_overrides[(INTERMEDIATE, LEAF)] = resign(
        federation.statement(INTERMEDIATE, LEAF),
        key=attacker,
        kid=kid,
        header={
            "jwk": public_jwk(attacker, kid=kid, alg="ES256"),
            "jku": "https://attacker.example.net/jwks",
        },
    )
    refused(federation, Reason.BAD_SIGNATURE)
    assert not any("attacker" in part for call in federation.calls for part in call)
