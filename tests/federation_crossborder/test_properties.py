"""Properties: whatever a peer (or an attacker in its place) sends, the checks only ever refuse
with CrossBorderRefused, never with another exception, and never accept a forgery."""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.federation.crossborder import (
    AcrTableError,
    CrossBorderRefused,
    check_id_token,
    load_acr_table,
    map_claims,
    peer_acr_for,
)
from idp.federation.crossborder.acr_mapping import map_peer_acr
from tests.federation.builder import NOW
from tests.federation_crossborder.kit import (
    OTHER_KEY,
    PEER_B,
    SECRET,
    TABLE,
    A,
    id_token_claims,
    mint,
)

_PROFILE_EXAMPLES = settings.default.max_examples
BOUNDED = settings(
    max_examples=_PROFILE_EXAMPLES if _PROFILE_EXAMPLES > 100 else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NONCE = "n-0S6_WzA2Mj"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
claim_names = st.sampled_from(
    ["iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "acr", "given_name", "birthdate"]
)
header_names = st.sampled_from(["alg", "kid", "typ", "crit", "jwk", "jku", "x5c", "b64"])


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def check(token: object) -> dict[str, Any]:
    return check_id_token(
        token, peer=PEER_B, client_id=A, nonce=NONCE, now=NOW, table=TABLE, requested_level=2
    )


def refused_only(token: object) -> None:
    try:
        check(token)
    except CrossBorderRefused:
        return


@BOUNDED
@given(st.one_of(st.text(max_size=300), st.binary(max_size=100), json_values))
def test_arbitrary_input_is_refused_cleanly(token: Any) -> None:
    refused_only(token)


@BOUNDED
@given(
    st.lists(
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/",
            max_size=60,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_garbled_segments_are_refused_cleanly(segments: list[str]) -> None:
    refused_only(".".join(segments))


@BOUNDED
@given(json_values, json_values)
def test_any_json_header_and_payload_are_refused_cleanly(header: Any, payload: Any) -> None:
    signature = mint().split(".")[2]
    refused_only(f"{_segment(header)}.{_segment(payload)}.{signature}")


@BOUNDED
@given(st.dictionaries(claim_names, json_values, max_size=4))
def test_signed_tokens_with_garbled_claims_are_refused_cleanly(changes: dict[str, Any]) -> None:
    claims = id_token_claims()
    claims.update(changes)
    try:
        accepted = check(mint(claims))
    except CrossBorderRefused:
        return
    # whatever was accepted met every rule
    assert accepted["iss"] == PEER_B.issuer
    assert accepted["nonce"] == NONCE
    assert A in ([accepted["aud"]] if isinstance(accepted["aud"], str) else accepted["aud"])
    assert (map_peer_acr(accepted["acr"], TABLE) or 0) >= 2


@BOUNDED
@given(st.dictionaries(header_names, json_values, max_size=4))
def test_garbled_headers_are_refused_cleanly(changes: dict[str, Any]) -> None:
    token = mint()
    header = {"alg": "ES256", "kid": "br-oidc-1", "typ": "JWT", **changes}
    _, payload, signature = token.split(".")
    refused_only(f"{_segment(header)}.{payload}.{signature}")


@BOUNDED
@given(st.dictionaries(claim_names, json_values, max_size=4))
def test_a_token_signed_by_another_key_is_never_accepted(changes: dict[str, Any]) -> None:
    claims = id_token_claims()
    claims.update(changes)
    try:
        check(mint(claims, key=OTHER_KEY))
    except CrossBorderRefused:
        return
    raise AssertionError("a forged token was accepted")


@BOUNDED
@given(
    st.dictionaries(
        st.sampled_from(["given_name", "family_name", "birthdate", "sub"]), json_values, max_size=4
    )
)
def test_claims_mapping_refuses_cleanly(changes: dict[str, Any]) -> None:
    claims = id_token_claims()
    claims.update(changes)
    try:
        data = map_claims(
            claims, peer=PEER_B, destination="UY", secret=SECRET, today=date(2027, 1, 15)
        )
    except CrossBorderRefused:
        return
    assert data.person_identifier.startswith("BR/UY/")


@BOUNDED
@given(json_values)
def test_acr_tables_are_loaded_or_refused_with_a_clear_error(document: Any) -> None:
    try:
        load_acr_table(json.dumps(document))
    except AcrTableError:
        return


@BOUNDED
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda s: s == s.strip()),
        st.integers(1, 3),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 3),
)
def test_the_forwarded_value_is_the_lowest_sufficient_one(
    levels: dict[str, int], requested: int
) -> None:
    table = load_acr_table(json.dumps({"peer_acr": levels}))
    try:
        chosen = peer_acr_for(requested, table)
    except CrossBorderRefused:
        assert all(level < requested for level in levels.values())
        return
    if requested == 0:
        assert chosen is None
        return
    assert chosen is not None
    assert levels[chosen] >= requested
    assert levels[chosen] == min(level for level in levels.values() if level >= requested)
