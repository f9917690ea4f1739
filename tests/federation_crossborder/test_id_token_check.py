"""The peer's ID token: accepted only when every check of OIDC Core 3.1.3.7 passes."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from idp.federation.crossborder import CrossBorderRefused, Refusal, check_id_token
from idp.federation.statements import public_jwk
from tests.federation.builder import NOW
from tests.federation_crossborder.kit import (
    B_KID,
    B_OIDC_KEY,
    OTHER_KEY,
    PEER_B,
    TABLE,
    A,
    B,
    id_token_claims,
    mint,
    peer_b,
    unsigned,
)

NONCE = "n-0S6_WzA2Mj"


def check(token: object, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "peer": PEER_B,
        "client_id": A,
        "nonce": NONCE,
        "now": NOW,
        "table": TABLE,
        "requested_level": 2,
    }
    options.update(kwargs)
    return check_id_token(token, **options)


def refused(token: object, **kwargs: Any) -> Refusal:
    with pytest.raises(CrossBorderRefused) as info:
        check(token, **kwargs)
    return info.value.reason


def test_a_good_token_is_accepted_and_its_claims_returned() -> None:
    claims = check(mint())
    assert claims["sub"] == "br-citizen-123"
    assert claims["acr"] == "urn:govbr:nivel:prata"


def test_typ_may_be_absent() -> None:
    assert check(mint(headers={"typ": None}))["iss"] == B


@pytest.mark.parametrize("typ", ["at+jwt", "logout+jwt", "entity-statement+jwt", 7])
def test_another_typ_is_refused(typ: object) -> None:
    assert refused(mint(headers={"typ": typ})) is Refusal.WRONG_TYP


def test_signed_by_another_key_is_a_bad_signature() -> None:
    assert refused(mint(key=OTHER_KEY)) is Refusal.BAD_SIGNATURE


def test_tampered_payload_is_a_bad_signature() -> None:
    header, _, signature = mint().split(".")
    payload = base64.urlsafe_b64encode(json.dumps(id_token_claims(sub="someone-else")).encode())
    forged = f"{header}.{payload.rstrip(b'=').decode()}.{signature}"
    assert refused(forged) is Refusal.BAD_SIGNATURE


def test_unknown_kid_is_a_bad_signature() -> None:
    assert refused(mint(headers={"kid": "nope"})) is Refusal.BAD_SIGNATURE


def test_without_kid_the_single_matching_key_is_used() -> None:
    assert check(mint(headers={"kid": None}))["iss"] == B


def test_key_in_a_jwk_header_is_never_used() -> None:
    token = mint(
        key=OTHER_KEY,
        headers={"kid": None, "jwk": public_jwk(OTHER_KEY, kid="x", alg="ES256")},
    )
    assert refused(token) is Refusal.BAD_SIGNATURE


def test_keys_passed_in_replace_the_inline_jwks() -> None:
    jwks = {"keys": [public_jwk(OTHER_KEY, kid=B_KID, alg="ES256")]}
    assert check(mint(key=OTHER_KEY), jwks=jwks)["iss"] == B
    assert refused(mint(), jwks=jwks) is Refusal.BAD_SIGNATURE


def test_a_peer_without_keys_is_untrusted() -> None:
    peer = peer_b(jwks=None, jwks_uri=f"{B}/jwks")
    assert refused(mint(), peer=peer) is Refusal.PEER_UNTRUSTED


def test_alg_none_and_hmac_are_refused() -> None:
    assert refused(unsigned(kid=B_KID)) is Refusal.UNSUPPORTED_ALG
    hmac_token = jwt.encode(id_token_claims(), "k" * 32, algorithm="HS256")
    assert refused(hmac_token) is Refusal.UNSUPPORTED_ALG


def test_alg_outside_the_peers_announced_algorithms_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = mint(key=rsa_key, alg="RS256", headers={"kid": "rsa"})
    jwks = {"keys": [public_jwk(rsa_key, kid="rsa", alg="RS256")]}
    assert refused(token, jwks=jwks) is Refusal.UNSUPPORTED_ALG
    assert check(token, jwks=jwks, peer=peer_b(id_token_signing_alg_values_supported=["RS256"]))


def test_alg_not_pinned_to_the_key_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = mint(key=rsa_key, alg="RS256", headers={"kid": B_KID})  # the EC key's kid
    peer = peer_b(id_token_signing_alg_values_supported=["ES256", "RS256"])
    assert refused(token, peer=peer) is Refusal.BAD_SIGNATURE


def test_crit_header_is_refused() -> None:
    assert refused(mint(headers={"crit": ["exp"]})) is Refusal.MALFORMED


@pytest.mark.parametrize("iss", [f"{B}/", "https://id.example.gov.br.evil", A, ["x"]])
def test_wrong_issuer(iss: object) -> None:
    assert refused(mint(id_token_claims(iss=iss))) is Refusal.WRONG_ISSUER


@pytest.mark.parametrize("aud", ["https://portal.example.gub.uy", [B], f"{A}/", [[A]]])
def test_wrong_audience(aud: object) -> None:
    assert refused(mint(id_token_claims(aud=aud))) is Refusal.WRONG_AUDIENCE


def test_several_audiences_need_azp_to_be_us() -> None:
    assert refused(mint(id_token_claims(aud=[A, B]))) is Refusal.WRONG_AUDIENCE
    assert refused(mint(id_token_claims(aud=[A, B], azp=B))) is Refusal.WRONG_AUDIENCE
    assert check(mint(id_token_claims(aud=[A, B], azp=A)))["azp"] == A
    assert refused(mint(id_token_claims(azp=B))) is Refusal.WRONG_AUDIENCE


@pytest.mark.parametrize("nonce", ["other", "", NONCE + "x", 5])
def test_wrong_nonce(nonce: object) -> None:
    assert refused(mint(id_token_claims(nonce=nonce))) is Refusal.WRONG_NONCE


def test_missing_nonce_is_a_wrong_nonce() -> None:
    assert refused(mint(id_token_claims(nonce=None))) is Refusal.WRONG_NONCE


def test_expired_beyond_leeway() -> None:
    token = mint(id_token_claims(exp=NOW - 31, iat=NOW - 100))
    assert refused(token) is Refusal.EXPIRED
    assert check(mint(id_token_claims(exp=NOW - 29, iat=NOW - 100)))


def test_issued_too_long_ago_counts_as_expired() -> None:
    token = mint(id_token_claims(iat=NOW - 3600, exp=NOW + 300))
    assert refused(token) is Refusal.EXPIRED


def test_issued_in_the_future() -> None:
    assert refused(mint(id_token_claims(iat=NOW + 120))) is Refusal.NOT_YET_VALID
    assert refused(mint(id_token_claims(nbf=NOW + 120))) is Refusal.NOT_YET_VALID


@pytest.mark.parametrize("name", ["sub", "exp", "iat", "aud", "iss"])
def test_missing_required_claim(name: str) -> None:
    assert refused(mint(id_token_claims(**{name: None}))) is Refusal.MISSING_CLAIM


def test_an_empty_audience_is_a_missing_audience() -> None:
    assert refused(mint(id_token_claims(aud=[]))) is Refusal.MISSING_CLAIM


@pytest.mark.parametrize(("name", "value"), [("exp", "soon"), ("iat", True), ("sub", 5)])
def test_claims_of_the_wrong_type_are_refused(name: str, value: object) -> None:
    assert refused(mint(id_token_claims(**{name: value}))) in {
        Refusal.MALFORMED,
        Refusal.INVALID_CLAIM,
    }


def test_acr_required_when_a_level_was_requested() -> None:
    token = mint(id_token_claims(acr=None))
    assert refused(token) is Refusal.MISSING_CLAIM
    assert "acr" not in check(token, requested_level=0)


@pytest.mark.parametrize(
    ("acr", "requested"),
    [
        ("urn:govbr:nivel:bronze", 2),
        ("urn:govbr:nivel:prata", 3),
        ("urn:iduruguay:nid:0", 1),
        ("urn:unknown:level", 1),
    ],
)
def test_level_too_low(acr: str, requested: int) -> None:
    assert refused(mint(id_token_claims(acr=acr)), requested_level=requested) is (
        Refusal.LEVEL_TOO_LOW
    )


def test_a_higher_level_than_requested_is_fine() -> None:
    assert check(mint(id_token_claims(acr="urn:govbr:nivel:ouro")), requested_level=1)


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c", "x" * 20000, "é.é.é", None, 12, "e30.e30.", "W10.e30.AA"]
)
def test_garbage_is_malformed_or_unsupported(token: object) -> None:
    assert refused(token) in {Refusal.MALFORMED, Refusal.UNSUPPORTED_ALG}


def test_duplicate_members_are_malformed() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"ES256","alg":"ES256"}').rstrip(b"=").decode()
    _, payload, signature = mint().split(".")
    assert refused(f"{header}.{payload}.{signature}") is Refusal.MALFORMED


def test_the_portal_gets_a_standard_error() -> None:
    with pytest.raises(CrossBorderRefused) as info:
        check(mint(id_token_claims(acr="urn:govbr:nivel:bronze")))
    assert info.value.oauth_error == "unmet_authentication_requirements"
    with pytest.raises(CrossBorderRefused) as info:
        check(mint(key=OTHER_KEY))
    assert info.value.oauth_error == "access_denied"


def test_the_checked_key_is_the_peers_own() -> None:
    assert PEER_B.jwks is not None
    assert PEER_B.jwks["keys"][0]["x"] == public_jwk(B_OIDC_KEY, kid=B_KID, alg="ES256")["x"]
