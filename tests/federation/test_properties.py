"""Property tests: policy algebra, and that garbage only ever yields TrustChainError."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.federation.policy import apply_policy, combine_policies
from idp.federation.statements import (
    ENTITY_STATEMENT_TYP,
    TrustChainError,
    decode_unverified,
    verify_entity_statement,
)
from idp.federation.trust_chain import TrustChain, resolve_trust_chain, validate_trust_chain
from tests.federation.builder import LEAF, NOW, TA, three_level_federation

# 50 examples per property, or more when a loaded Hypothesis profile asks for more than
# Hypothesis's own default of 100 (a fuzzing profile).
_PROFILE_EXAMPLES = settings.default.max_examples
BOUNDED = settings(
    max_examples=_PROFILE_EXAMPLES if _PROFILE_EXAMPLES > 100 else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
RP = "openid_relying_party"

atoms = st.sampled_from(["a", "b", "c", "d"])
arrays = st.lists(atoms, unique=True, max_size=4)
parameter_policies = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(st.none(), atoms, arrays),
        "add": arrays,
        "default": st.one_of(atoms, arrays),
        "one_of": st.lists(atoms, unique=True, min_size=1, max_size=4),
        "subset_of": arrays,
        "superset_of": arrays,
        "essential": st.booleans(),
    },
)
policies = st.dictionaries(
    st.just(RP), st.dictionaries(st.sampled_from(["p", "q"]), parameter_policies, max_size=2)
)
parameter_values = st.one_of(atoms, arrays)
metadata_values = st.dictionaries(st.sampled_from(["p", "q"]), parameter_values, max_size=2)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def outcome(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except TrustChainError:
        return TrustChainError


def canonical(policy: Any) -> Any:
    """Compare merged policies as the specification does: array operators as sets."""
    if policy is TrustChainError:
        return policy
    result = {}
    for entity_type, parameters in policy.items():
        for name, operators in parameters.items():
            for operator, value in operators.items():
                if operator in ("add", "one_of", "subset_of", "superset_of"):
                    value = sorted(json.dumps(item) for item in value)
                result[(entity_type, name, operator)] = json.dumps(value, sort_keys=True)
    return result


@BOUNDED
@given(policies, policies, policies)
def test_combination_is_associative(first: Any, second: Any, third: Any) -> None:
    left = outcome(lambda: combine_policies(combine_policies(first, second), third))
    right = outcome(lambda: combine_policies(first, combine_policies(second, third)))
    assert canonical(left) == canonical(right)


@BOUNDED
@given(policies, metadata_values)
def test_application_is_idempotent(policy: Any, metadata: dict[str, Any]) -> None:
    resolved = outcome(combine_policies, {}, policy)
    if resolved is TrustChainError or RP not in resolved:
        return
    once = outcome(apply_policy, metadata, resolved[RP])
    if once is not TrustChainError:
        assert apply_policy(once, resolved[RP]) == once


@BOUNDED
@given(policies, policies, metadata_values)
def test_results_lie_inside_every_superiors_allowed_sets(
    superior: Any, subordinate: Any, metadata: dict[str, Any]
) -> None:
    merged = outcome(combine_policies, superior, subordinate)
    if merged is TrustChainError or RP not in merged:
        return
    result = outcome(apply_policy, metadata, merged[RP])
    if result is TrustChainError:
        return
    for source in (superior, subordinate):
        for name, operators in source.get(RP, {}).items():
            if name not in result:
                assert not operators.get("essential")
                continue
            if "one_of" in operators:
                assert result[name] in operators["one_of"]
            if "subset_of" in operators:
                assert set(result[name]) <= set(operators["subset_of"])
            if "superset_of" in operators:
                assert set(result[name]) >= set(operators["superset_of"])


@BOUNDED
@given(json_values, json_values)
def test_arbitrary_policies_only_raise_trust_chain_errors(policy: Any, metadata: Any) -> None:
    merged = outcome(combine_policies, {RP: {"p": {"essential": False}}}, {RP: policy})
    if merged is not TrustChainError and isinstance(metadata, dict):
        outcome(apply_policy, metadata, merged[RP])


# --- statements and chains ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> tuple[Any, TrustChain]:
    federation = three_level_federation()
    return federation, resolve_trust_chain(
        LEAF, trust_anchors=federation.trust_anchors(), fetcher=federation, now=NOW
    )


@BOUNDED
@given(st.text(max_size=300))
def test_decoding_garbage_only_raises_trust_chain_errors(text: str) -> None:
    outcome(decode_unverified, text)


mutations = st.tuples(
    st.integers(min_value=0, max_value=3),  # which statement
    st.sampled_from(["flip", "truncate", "insert", "swap"]),
    st.integers(min_value=0, max_value=10_000),  # where
    st.text(alphabet="abcdefABC012_-.=/+ ", min_size=1, max_size=4),
)


@BOUNDED
@given(mutations)
def test_mutated_chains_are_refused_with_trust_chain_errors(
    chain: tuple[Any, TrustChain], mutation: tuple[int, str, int, str]
) -> None:
    federation, resolved = chain
    index, kind, where, text = mutation
    statements = list(resolved.statements)
    token = statements[index]
    where %= len(token)
    if kind == "flip":
        statements[index] = token[:where] + text[0] + token[where + 1 :]
    elif kind == "truncate":
        statements[index] = token[:where]
    elif kind == "insert":
        statements[index] = token[:where] + text + token[where:]
    else:
        other = (index + 1 + where) % len(statements)
        statements[index], statements[other] = statements[other], statements[index]
    result = outcome(
        lambda: validate_trust_chain(statements, trust_anchors=federation.trust_anchors(), now=NOW)
    )
    if result is not TrustChainError:
        # Unchanged, or a change only in unused base64 bits: the same chain.
        assert [decode_unverified(t) for t in statements] == [
            decode_unverified(t) for t in resolved.statements
        ]
        assert result.metadata == resolved.metadata


@BOUNDED
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "iss",
                "sub",
                "iat",
                "exp",
                "jwks",
                "metadata",
                "authority_hints",
                "crit",
                "constraints",
                "metadata_policy",
                "metadata_policy_crit",
                "source_endpoint",
            ]
        ),
        json_values,
        max_size=8,
    )
)
def test_signed_statements_with_arbitrary_claims_only_raise_trust_chain_errors(
    chain: tuple[Any, TrustChain], overrides: dict[str, Any]
) -> None:
    federation, _ = chain
    ta = federation.entities[TA]
    claims = {**federation.configuration_claims(TA), **overrides}
    # PyJWS signs any JSON payload; PyJWT's claim-set encoder would refuse some of these.
    token = jwt.PyJWS().encode(
        json.dumps(claims).encode(),
        ta.private_key,
        algorithm="ES256",
        headers={"typ": ENTITY_STATEMENT_TYP, "kid": ta.kid},
    )
    outcome(lambda: verify_entity_statement(token, jwks=ta.jwks, now=NOW))
    outcome(
        lambda: validate_trust_chain(
            [token, *reversed([token])], trust_anchors=federation.trust_anchors(), now=NOW
        )
    )


@BOUNDED
@given(json_values)
def test_arbitrary_jwks_only_raise_trust_chain_errors(
    chain: tuple[Any, TrustChain], jwks: Any
) -> None:
    _, resolved = chain
    outcome(lambda: verify_entity_statement(resolved.statements[0], jwks=jwks, now=NOW))
    outcome(lambda: verify_entity_statement(resolved.statements[0], jwks={"keys": [jwks]}, now=NOW))
