"""The peer's authorization response at our callback."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from idp.federation.crossborder import (
    CrossBorderRefused,
    Refusal,
    build_authorization_request,
    check_authorization_response,
)
from tests.federation.builder import NOW
from tests.federation_crossborder.kit import A_CALLBACK, A_SIGNING_KEY, PEER_B, TABLE, A, B

REQUEST = build_authorization_request(
    client_id=A,
    redirect_uri=A_CALLBACK,
    peer=PEER_B,
    key=A_SIGNING_KEY,
    table=TABLE,
    requested_level=2,
    now=NOW,
)
STRICT_PEER = dataclasses.replace(PEER_B, authorization_response_iss_parameter_supported=True)


def refused(params: dict[str, Any], peer: Any = PEER_B) -> Refusal:
    with pytest.raises(CrossBorderRefused) as info:
        check_authorization_response(params, request=REQUEST, peer=peer)
    return info.value.reason


def test_a_good_response_gives_the_code() -> None:
    params = {"code": "abc", "state": REQUEST.state, "iss": B}
    assert check_authorization_response(params, request=REQUEST, peer=STRICT_PEER) == "abc"
    params = {"code": ["abc"], "state": [REQUEST.state]}
    assert check_authorization_response(params, request=REQUEST, peer=PEER_B) == "abc"


@pytest.mark.parametrize("state", [None, "", "other", REQUEST.state + "x", ["a", "b"]])
def test_wrong_state(state: object) -> None:
    params = {"code": "abc"} if state is None else {"code": "abc", "state": state}
    assert refused(params) in {Refusal.WRONG_STATE, Refusal.MALFORMED}


def test_state_is_checked_before_the_error() -> None:
    assert refused({"error": "access_denied", "state": "other"}) is Refusal.WRONG_STATE


def test_rfc9207_issuer() -> None:
    assert refused({"code": "c", "state": REQUEST.state, "iss": A}) is Refusal.WRONG_ISSUER
    assert refused({"code": "c", "state": REQUEST.state}, STRICT_PEER) is Refusal.WRONG_ISSUER


def test_a_response_from_another_peer_than_the_one_in_progress() -> None:
    other = dataclasses.replace(PEER_B, issuer="https://id.example.gob.ar")
    assert refused({"code": "c", "state": REQUEST.state}, other) is Refusal.WRONG_ISSUER


def test_peer_error() -> None:
    refusal = refused({"error": "access_denied", "state": REQUEST.state, "iss": B})
    assert refusal is Refusal.PEER_ERROR


@pytest.mark.parametrize("code", [None, "", ["a", "b"], "x" * 5000])
def test_missing_or_malformed_code(code: object) -> None:
    params: dict[str, Any] = {"state": REQUEST.state}
    if code is not None:
        params["code"] = code
    assert refused(params) is Refusal.MALFORMED
