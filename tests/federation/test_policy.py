"""Metadata policy (OpenID Federation 1.0, section 6.1)."""

from __future__ import annotations

from typing import Any

import pytest

from idp.federation.policy import (
    apply_metadata_override,
    apply_metadata_policy,
    apply_policy,
    check_metadata_policy_crit,
    combine_policies,
    resolve_metadata_policy,
    validate_metadata_policy,
)
from idp.federation.statements import Reason, TrustChainError

RP = "openid_relying_party"


def refused(reason: Reason, call: Any, *args: Any, **kwargs: Any) -> TrustChainError:
    with pytest.raises(TrustChainError) as caught:
        call(*args, **kwargs)
    assert caught.value.reason is reason, caught.value
    return caught.value


# --- the worked example of section 6.1.5 ----------------------------------------------------

TA_POLICY = {
    RP: {
        "grant_types": {
            "default": ["authorization_code"],
            "subset_of": ["authorization_code", "refresh_token"],
            "superset_of": ["authorization_code"],
        },
        "token_endpoint_auth_method": {
            "one_of": ["private_key_jwt", "self_signed_tls_client_auth"],
            "essential": True,
        },
        "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
        "subject_type": {"value": "pairwise"},
        "contacts": {"add": ["helpdesk@federation.example.org"]},
    }
}
INTERMEDIATE_POLICY = {
    RP: {
        "grant_types": {"subset_of": ["authorization_code"]},
        "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"]},
        "contacts": {"add": ["helpdesk@org.example.org"]},
    }
}
INTERMEDIATE_METADATA = {
    RP: {
        "sector_identifier_uri": "https://org.example.org/sector-ids.json",
        "policy_uri": "https://org.example.org/policy.html",
    }
}
LEAF_METADATA = {
    RP: {
        "redirect_uris": ["https://rp.example.org/callback"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "contacts": ["rp_admins@rp.example.org"],
    }
}


def test_the_specification_example_merges_as_published() -> None:
    merged = combine_policies(TA_POLICY, INTERMEDIATE_POLICY)
    assert merged[RP] == {
        "grant_types": {
            "default": ["authorization_code"],
            "superset_of": ["authorization_code"],
            "subset_of": ["authorization_code"],
        },
        "token_endpoint_auth_method": {
            "one_of": ["self_signed_tls_client_auth"],
            "essential": True,
        },
        "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
        "subject_type": {"value": "pairwise"},
        "contacts": {"add": ["helpdesk@federation.example.org", "helpdesk@org.example.org"]},
    }


def test_the_specification_example_resolves_as_published() -> None:
    metadata = apply_metadata_override(LEAF_METADATA, INTERMEDIATE_METADATA)
    policy = resolve_metadata_policy([TA_POLICY, INTERMEDIATE_POLICY])
    assert apply_metadata_policy(metadata, policy)[RP] == {
        "redirect_uris": ["https://rp.example.org/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "subject_type": "pairwise",
        "sector_identifier_uri": "https://org.example.org/sector-ids.json",
        "policy_uri": "https://org.example.org/policy.html",
        "contacts": [
            "rp_admins@rp.example.org",
            "helpdesk@federation.example.org",
            "helpdesk@org.example.org",
        ],
    }


def test_inputs_are_not_modified() -> None:
    before = repr((TA_POLICY, INTERMEDIATE_POLICY, LEAF_METADATA))
    apply_metadata_policy(LEAF_METADATA, combine_policies(TA_POLICY, INTERMEDIATE_POLICY))
    assert repr((TA_POLICY, INTERMEDIATE_POLICY, LEAF_METADATA)) == before


# --- operators (section 6.1.3.1) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("operators", "metadata", "expected"),
    [
        ({"value": "x"}, {}, {"p": "x"}),
        ({"value": "x"}, {"p": "y"}, {"p": "x"}),
        ({"value": None}, {"p": "y"}, {}),
        ({"value": None}, {}, {}),
        ({"add": ["a"]}, {}, {"p": ["a"]}),
        ({"add": ["a", "b"]}, {"p": ["b", "c"]}, {"p": ["b", "c", "a"]}),
        ({"default": ["a"]}, {}, {"p": ["a"]}),
        ({"default": ["a"]}, {"p": ["b"]}, {"p": ["b"]}),
        ({"one_of": ["a", "b"]}, {"p": "b"}, {"p": "b"}),
        ({"one_of": ["a", "b"]}, {}, {}),
        ({"one_of": ["a"], "default": "a"}, {}, {"p": "a"}),
        ({"subset_of": ["a", "b"]}, {"p": ["b", "c", "a"]}, {"p": ["b", "a"]}),
        ({"subset_of": ["a"]}, {"p": ["c"]}, {"p": []}),
        ({"superset_of": ["a"]}, {"p": ["a", "b"]}, {"p": ["a", "b"]}),
        ({"essential": True}, {"p": 1}, {"p": 1}),
        ({"essential": False}, {}, {}),
        ({"value": ["a", "b"], "add": ["a"]}, {"p": ["c"]}, {"p": ["a", "b"]}),
        ({"one_of": [1, 2]}, {"p": 2}, {"p": 2}),
        ({"one_of": [{"k": 1}]}, {"p": {"k": 1}}, {"p": {"k": 1}}),
    ],
)
def test_operators_apply(operators: dict[str, Any], metadata: dict, expected: dict) -> None:
    assert apply_policy(metadata, {"p": operators}) == expected


@pytest.mark.parametrize(
    ("essential", "metadata", "expected"),
    [  # the table of section 6.1.3.1.8
        (True, {"p": ["a", "e"]}, {"p": ["a"]}),
        (False, {"p": ["a", "e"]}, {"p": ["a"]}),
        (True, {"p": ["d", "e"]}, {"p": []}),
        (False, {"p": ["d", "e"]}, {"p": []}),
        (True, {}, None),
        (False, {}, {}),
    ],
)
def test_essential_and_subset_of_as_tabulated(
    essential: bool, metadata: dict, expected: dict | None
) -> None:
    policy = {"p": {"essential": essential, "subset_of": ["a", "b", "c"]}}
    if expected is None:
        refused(Reason.POLICY_VIOLATION, apply_policy, metadata, policy)
    else:
        assert apply_policy(metadata, policy) == expected


@pytest.mark.parametrize(
    ("operators", "metadata"),
    [
        ({"one_of": ["a", "b"]}, {"p": "c"}),
        ({"one_of": ["a", "b"]}, {"p": ["a"]}),
        ({"superset_of": ["a", "b"]}, {"p": ["a"]}),
        ({"superset_of": ["a"]}, {"p": "a"}),
        ({"subset_of": ["a"]}, {"p": "a"}),
        ({"add": ["a"]}, {"p": "a"}),
        ({"essential": True}, {}),
        ({"value": None, "essential": False, "superset_of": []}, {}),
    ],
)
def test_metadata_that_does_not_comply_is_refused(operators: dict, metadata: dict) -> None:
    try:
        validate_metadata_policy({RP: {"p": operators}})
    except TrustChainError:
        return  # refused even earlier, as a policy error
    refused(Reason.POLICY_VIOLATION, apply_policy, metadata, {"p": operators})


def test_scope_is_processed_as_an_array() -> None:
    policy = {"scope": {"subset_of": ["openid", "profile"], "superset_of": ["openid"]}}
    assert apply_policy({"scope": "openid email profile"}, policy) == {"scope": "openid profile"}
    assert apply_policy({}, {"scope": {"default": ["openid"]}}) == {"scope": "openid"}
    refused(Reason.POLICY_VIOLATION, apply_policy, {"scope": "email"}, policy)


def test_language_tagged_parameters_are_separate() -> None:
    policy = {"client_name#en": {"value": "Portal"}}
    assert apply_policy({"client_name": "Portal UY"}, policy) == {
        "client_name": "Portal UY",
        "client_name#en": "Portal",
    }


# --- operator values and combinations ------------------------------------------------------


@pytest.mark.parametrize(
    "operators",
    [
        {"add": "a"},
        {"add": [None]},
        {"one_of": []},
        {"one_of": "a"},
        {"subset_of": {"a": 1}},
        {"superset_of": [["a"]]},
        {"default": None},
        {"essential": "yes"},
    ],
)
def test_wrong_operator_values_are_refused(operators: dict[str, Any]) -> None:
    refused(Reason.INVALID_POLICY, validate_metadata_policy, {RP: {"p": operators}})


@pytest.mark.parametrize("policy", [[], {RP: []}, {RP: {"p": "value"}}])
def test_wrong_policy_structure_is_refused(policy: Any) -> None:
    refused(Reason.INVALID_POLICY, validate_metadata_policy, policy)


@pytest.mark.parametrize(
    "operators",
    [
        {"value": ["a"], "add": ["b"]},
        {"value": None, "add": ["b"]},
        {"value": None, "default": "a"},
        {"value": "c", "one_of": ["a", "b"]},
        {"value": ["c"], "subset_of": ["a"]},
        {"value": ["a"], "superset_of": ["a", "b"]},
        {"value": None, "essential": True},
        {"one_of": ["a"], "add": ["a"]},
        {"one_of": ["a"], "subset_of": ["a"]},
        {"one_of": ["a"], "superset_of": ["a"]},
        {"add": ["c"], "subset_of": ["a"]},
        {"subset_of": ["a"], "superset_of": ["a", "b"]},
    ],
)
def test_forbidden_combinations_are_conflicts(operators: dict[str, Any]) -> None:
    refused(Reason.POLICY_CONFLICT, validate_metadata_policy, {RP: {"p": operators}})


@pytest.mark.parametrize(
    "operators",
    [
        {"value": ["a", "b"], "add": ["a"], "subset_of": ["a", "b", "c"], "superset_of": ["b"]},
        {"value": "a", "one_of": ["a", "b"], "default": "b", "essential": True},
        {"value": None, "essential": False},
        {"add": ["a"], "subset_of": ["a", "b"], "superset_of": ["a"], "default": ["b"]},
    ],
)
def test_allowed_combinations_are_accepted(operators: dict[str, Any]) -> None:
    assert validate_metadata_policy({RP: {"p": operators}}) == {RP: {"p": operators}}


# --- merging (section 6.1.4.1) -------------------------------------------------------------


def merged(superior: dict[str, Any], subordinate: dict[str, Any]) -> dict[str, Any]:
    return combine_policies({RP: {"p": superior}}, {RP: {"p": subordinate}})[RP]["p"]


def test_merge_rules_per_operator() -> None:
    assert merged({"value": "a"}, {"value": "a"}) == {"value": "a"}
    assert merged({"add": ["a"]}, {"add": ["b", "a"]}) == {"add": ["a", "b"]}
    assert merged({"default": 1}, {"default": 1}) == {"default": 1}
    assert merged({"one_of": ["a", "b"]}, {"one_of": ["b", "c"]}) == {"one_of": ["b"]}
    assert merged({"subset_of": ["a"]}, {"subset_of": ["b"]}) == {"subset_of": []}
    assert merged({"superset_of": ["a"]}, {"superset_of": ["b"]}) == {"superset_of": ["a", "b"]}
    assert merged({"essential": False}, {"essential": True}) == {"essential": True}
    assert merged({"essential": True}, {"essential": False}) == {"essential": True}


@pytest.mark.parametrize(
    ("superior", "subordinate"),
    [
        ({"value": "a"}, {"value": "b"}),
        ({"value": ["a", "b"]}, {"value": ["b", "a"]}),
        ({"default": "a"}, {"default": "b"}),
        ({"one_of": ["a"]}, {"one_of": ["b"]}),
        ({"value": "a"}, {"one_of": ["b"]}),
        ({"subset_of": ["a", "b"]}, {"superset_of": ["c"]}),
        ({"one_of": ["a"]}, {"subset_of": ["a"]}),
        ({"value": None}, {"essential": True}),
    ],
)
def test_conflicting_merges_are_refused(superior: dict, subordinate: dict) -> None:
    refused(Reason.POLICY_CONFLICT, merged, superior, subordinate)


def test_policies_for_other_types_and_parameters_are_copied() -> None:
    superior = {RP: {"a": {"value": 1}}}
    subordinate = {RP: {"b": {"value": 2}}, "openid_provider": {"c": {"essential": True}}}
    assert combine_policies(superior, subordinate) == {
        RP: {"a": {"value": 1}, "b": {"value": 2}},
        "openid_provider": {"c": {"essential": True}},
    }


def test_a_subordinate_cannot_loosen_a_superior_policy() -> None:
    policy = resolve_metadata_policy(
        [{RP: {"p": {"subset_of": ["a", "b"]}}}, {RP: {"p": {"subset_of": ["a", "b", "c"]}}}]
    )
    assert apply_policy({"p": ["a", "c"]}, policy[RP]) == {"p": ["a"]}


# --- additional operators and metadata_policy_crit -----------------------------------------


def test_unknown_operators_are_ignored_unless_critical() -> None:
    policy = {RP: {"p": {"regexp": "^a", "one_of": ["a"]}}}
    assert validate_metadata_policy(policy) == {RP: {"p": {"one_of": ["a"]}}}
    refused(
        Reason.UNKNOWN_CRITICAL_OPERATOR,
        validate_metadata_policy,
        policy,
        critical_operators={"regexp"},
    )


def test_metadata_policy_crit() -> None:
    assert check_metadata_policy_crit(None) == frozenset()
    refused(Reason.UNKNOWN_CRITICAL_OPERATOR, check_metadata_policy_crit, ["regexp"])
    refused(Reason.INVALID_POLICY, check_metadata_policy_crit, [])
    refused(Reason.INVALID_POLICY, check_metadata_policy_crit, "regexp")
    refused(Reason.INVALID_POLICY, check_metadata_policy_crit, ["one_of"])


# --- the metadata claim of a Subordinate Statement (section 3.1) ----------------------------


def test_superior_metadata_overrides_only_present_entity_types() -> None:
    leaf = {RP: {"client_name": "mine", "contacts": ["me"]}}
    superior = {RP: {"client_name": "attested"}, "openid_provider": {"issuer": "x"}}
    assert apply_metadata_override(leaf, superior) == {
        RP: {"client_name": "attested", "contacts": ["me"]}
    }
    assert apply_metadata_override(leaf, None) == leaf
