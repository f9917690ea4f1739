"""Entity Statements: signing, structure and verification (sections 3 and 3.2, RFC 8725)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from idp.federation.statements import (
    ENTITY_STATEMENT_TYP,
    MAX_STATEMENT_LENGTH,
    Reason,
    TrustChainError,
    decode_unverified,
    index_jwks,
    public_jwk,
    sign_entity_statement,
    verify_entity_statement,
)
from tests.federation.builder import NOW, new_ec_key

ENTITY = "https://op.example.org"
SUPERIOR = "https://ta.example.org"
KID = "key-1"


@pytest.fixture(scope="module")
def key() -> Any:
    return new_ec_key()


@pytest.fixture(scope="module")
def jwks(key: Any) -> dict[str, Any]:
    return {"keys": [public_jwk(key, kid=KID, alg="ES256")]}


def claims(jwks: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    base = {"iss": ENTITY, "sub": ENTITY, "iat": NOW - 10, "exp": NOW + 3600, "jwks": jwks}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def verify(token: str, jwks: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return verify_entity_statement(token, jwks=jwks, now=NOW, **kwargs)


def refused(token: str, jwks: dict[str, Any], reason: Reason, **kwargs: Any) -> None:
    with pytest.raises(TrustChainError) as caught:
        verify(token, jwks, **kwargs)
    assert caught.value.reason is reason, caught.value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(signature)}"
    )


# --- signing and the happy path ------------------------------------------------------------


def test_signed_statements_are_typed_and_carry_the_kid(key: Any, jwks: dict[str, Any]) -> None:
    token = sign_entity_statement(claims(jwks), private_key=key, kid=KID, alg="ES256")
    header, payload = decode_unverified(token)
    assert header == {"alg": "ES256", "typ": ENTITY_STATEMENT_TYP, "kid": KID}
    assert verify(token, jwks, expected_iss=ENTITY, expected_sub=ENTITY) == payload


@pytest.mark.parametrize("alg", ["PS256", "RS256"])
def test_rsa_statements_verify(alg: str) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_jwks = {"keys": [public_jwk(rsa_key, kid="rsa", alg=alg)]}
    token = sign_entity_statement(claims(rsa_jwks), private_key=rsa_key, kid="rsa", alg=alg)
    assert verify(token, rsa_jwks)["iss"] == ENTITY


def test_eddsa_statements_verify() -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_jwks = {"keys": [public_jwk(ed_key, kid="ed", alg="EdDSA")]}
    token = sign_entity_statement(claims(ed_jwks), private_key=ed_key, kid="ed", alg="EdDSA")
    assert verify(token, ed_jwks)["sub"] == ENTITY


def test_signing_refuses_symmetric_algorithms(key: Any) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        sign_entity_statement({}, private_key=b"secret", kid=KID, alg="HS256")
    with pytest.raises(ValueError, match="kid"):
        sign_entity_statement({}, private_key=key, kid="", alg="ES256")


# --- structure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", Reason.MALFORMED),
        ("a.b", Reason.MALFORMED),
        ("a.b.c.d", Reason.MALFORMED),
        ("é.b.c", Reason.MALFORMED),
        ("!!!.e30.sig", Reason.MALFORMED),
        (f"{b64(b'[]')}.e30.c2ln", Reason.MALFORMED),
        (f"e30.{b64(b'not json')}.c2ln", Reason.MALFORMED),
        ("e30." + b64(b'{"a":1,"a":2}') + ".c2ln", Reason.MALFORMED),
        ("e30." + b64(b'{"a":NaN}') + ".c2ln", Reason.MALFORMED),
        ("e30." + b64(b'{"a":1e400}') + ".c2ln", None),
        ("x" * (MAX_STATEMENT_LENGTH + 1), Reason.TOO_LARGE),
    ],
)
def test_structure_is_checked(token: str, reason: Reason | None) -> None:
    if reason is None:  # structurally fine; the claim checks refuse it later
        decode_unverified(token)
        return
    with pytest.raises(TrustChainError) as caught:
        decode_unverified(token)
    assert caught.value.reason is reason


def test_non_strings_are_malformed() -> None:
    with pytest.raises(TrustChainError) as caught:
        decode_unverified(b"e30.e30.c2ln")
    assert caught.value.reason is Reason.MALFORMED


def test_an_oversized_signed_statement_is_refused(key: Any, jwks: dict[str, Any]) -> None:
    payload = claims(jwks, padding="x" * MAX_STATEMENT_LENGTH)
    token = sign_entity_statement(payload, private_key=key, kid=KID, alg="ES256")
    refused(token, jwks, Reason.TOO_LARGE)


# --- header rules --------------------------------------------------------------------------


@pytest.mark.parametrize("typ", [None, "JWT", "entity-statement", "Entity-Statement+JWT"])
def test_typ_must_be_exactly_entity_statement_jwt(
    typ: str | None, key: Any, jwks: dict[str, Any]
) -> None:
    headers = {"kid": KID, "typ": typ}
    token = jwt.encode(claims(jwks), key, algorithm="ES256", headers=headers)
    refused(token, jwks, Reason.WRONG_TYP)


def test_alg_none_is_refused(jwks: dict[str, Any]) -> None:
    token = compact({"alg": "none", "typ": ENTITY_STATEMENT_TYP, "kid": KID}, claims(jwks))
    refused(token, jwks, Reason.UNSUPPORTED_ALG)


def test_hs256_keyed_with_the_public_key_is_refused(key: Any, jwks: dict[str, Any]) -> None:
    """The classic confusion: HMAC keyed with the verifier's public key (RFC 8725 2.1)."""
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": ENTITY_STATEMENT_TYP, "kid": KID}
    unsigned = compact(header, claims(jwks)).rstrip(".")
    signature = hmac.new(pem, unsigned.encode(), hashlib.sha256).digest()
    refused(f"{unsigned}.{b64(signature)}", jwks, Reason.UNSUPPORTED_ALG)


def test_alg_must_match_the_key_type(jwks: dict[str, Any]) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        claims(jwks), rsa_key, algorithm="RS256", headers={"kid": KID, "typ": ENTITY_STATEMENT_TYP}
    )
    refused(token, jwks, Reason.UNSUPPORTED_ALG)


def test_alg_must_be_allowed(key: Any, jwks: dict[str, Any]) -> None:
    token = sign_entity_statement(claims(jwks), private_key=key, kid=KID, alg="ES256")
    refused(token, jwks, Reason.UNSUPPORTED_ALG, allowed_algs={"RS256"})


def test_kid_is_required(key: Any, jwks: dict[str, Any]) -> None:
    token = jwt.encode(claims(jwks), key, algorithm="ES256", headers={"typ": ENTITY_STATEMENT_TYP})
    refused(token, jwks, Reason.UNKNOWN_KID)


def test_kid_must_name_a_trusted_key(key: Any, jwks: dict[str, Any]) -> None:
    token = sign_entity_statement(claims(jwks), private_key=key, kid="other", alg="ES256")
    refused(token, jwks, Reason.UNKNOWN_KID)


def test_a_jwk_header_is_never_used(jwks: dict[str, Any]) -> None:
    attacker = new_ec_key()
    header = {
        "typ": ENTITY_STATEMENT_TYP,
        "kid": KID,
        "jwk": public_jwk(attacker, kid=KID, alg="ES256"),
        "x5u": "https://attacker.example.net/cert.pem",
    }
    token = jwt.encode(claims(jwks), attacker, algorithm="ES256", headers=header)
    refused(token, jwks, Reason.BAD_SIGNATURE)


def test_a_tampered_payload_is_refused(key: Any, jwks: dict[str, Any]) -> None:
    token = sign_entity_statement(claims(jwks), private_key=key, kid=KID, alg="ES256")
    header, _, signature = token.split(".")
    payload = b64(json.dumps(claims(jwks, sub="https://evil.example.org")).encode())
    refused(f"{header}.{payload}.{signature}", jwks, Reason.BAD_SIGNATURE)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"crit": ["exp"]}, Reason.UNKNOWN_CRITICAL),
        ({"crit": ["urn:example:ext"], "urn:example:ext": 1}, Reason.UNKNOWN_CRITICAL),
        ({"trust_chain": ["a.b.c"]}, Reason.MALFORMED),
        ({"b64": False}, Reason.MALFORMED),
    ],
)
def test_header_extensions_are_refused(
    extra: dict[str, Any], reason: Reason, key: Any, jwks: dict[str, Any]
) -> None:
    headers = {"kid": KID, "typ": ENTITY_STATEMENT_TYP, **extra}
    token = jwt.encode(claims(jwks), key, algorithm="ES256", headers=headers)
    refused(token, jwks, reason)


# --- claims --------------------------------------------------------------------------------


def signed(key: Any, payload: dict[str, Any]) -> str:
    return sign_entity_statement(payload, private_key=key, kid=KID, alg="ES256")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": NOW - 3600}, Reason.EXPIRED),
        ({"iat": NOW + 3600}, Reason.ISSUED_IN_FUTURE),
        ({"exp": None}, Reason.MISSING_CLAIM),
        ({"iat": "yesterday"}, Reason.MISSING_CLAIM),
        ({"exp": True}, Reason.MISSING_CLAIM),
        ({"exp": 1e300}, Reason.MISSING_CLAIM),
        ({"iss": None}, Reason.MISSING_CLAIM),
        ({"sub": 7}, Reason.MISSING_CLAIM),
        ({"crit": ["jti"], "jti": "x"}, Reason.UNKNOWN_CRITICAL),
        ({"crit": ["exp"]}, Reason.MALFORMED),
        ({"crit": []}, Reason.MALFORMED),
        ({"metadata_policy": {}}, Reason.MALFORMED),
        ({"constraints": {}}, Reason.MALFORMED),
        ({"authority_hints": []}, Reason.MALFORMED),
        ({"authority_hints": [3]}, Reason.MALFORMED),
        ({"metadata": {"openid_provider": {"issuer": None}}}, Reason.MALFORMED),
        ({"metadata": {"openid_provider": []}}, Reason.MALFORMED),
        ({"metadata": []}, Reason.MALFORMED),
    ],
)
def test_claims_are_checked(
    overrides: dict[str, Any], reason: Reason, key: Any, jwks: dict[str, Any]
) -> None:
    payload = claims(jwks, **overrides)
    for name in [name for name, value in overrides.items() if value is None]:
        payload.pop(name, None)
    refused(signed(key, payload), jwks, reason)


def test_a_missing_jwks_claim_is_refused(key: Any, jwks: dict[str, Any]) -> None:
    payload = claims(jwks)
    del payload["jwks"]
    refused(signed(key, payload), jwks, Reason.MISSING_CLAIM)


def test_a_small_clock_skew_is_tolerated(key: Any, jwks: dict[str, Any]) -> None:
    token = signed(key, claims(jwks, iat=NOW + 20, exp=NOW - 20))
    assert verify(token, jwks)["iat"] == NOW + 20


def test_issuer_and_subject_are_checked(key: Any, jwks: dict[str, Any]) -> None:
    token = signed(key, claims(jwks))
    refused(token, jwks, Reason.WRONG_ISSUER, expected_iss=SUPERIOR)
    refused(token, jwks, Reason.WRONG_SUBJECT, expected_sub=SUPERIOR)


def test_subordinate_only_claims_are_allowed_in_subordinate_statements(
    key: Any, jwks: dict[str, Any]
) -> None:
    payload = claims(
        jwks,
        iss=SUPERIOR,
        metadata_policy={"openid_provider": {}},
        constraints={"max_path_length": 0},
        source_endpoint=f"{SUPERIOR}/fetch",
    )
    assert verify(signed(key, payload), jwks)["iss"] == SUPERIOR
    payload = claims(jwks, iss=SUPERIOR, authority_hints=[SUPERIOR])
    refused(signed(key, payload), jwks, Reason.MALFORMED)


# --- JWK Sets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_jwks",
    [
        None,
        [],
        {"keys": []},
        {"keys": "x"},
        {"keys": [1]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k"}]},
        {"keys": [{"kty": "EC", "crv": ["P-256"], "x": "a", "y": "b", "kid": "k"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k", "use": "enc"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k", "d": "s"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k", "alg": "RS256"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k"}] * 2},
        {"keys": [{"kty": "EC", "crv": "P-256", "kid": str(n)} for n in range(17)]},
    ],
)
def test_bad_jwk_sets_are_refused(bad_jwks: Any) -> None:
    with pytest.raises(TrustChainError) as caught:
        index_jwks(bad_jwks)
    assert caught.value.reason is Reason.INVALID_JWKS


def test_a_bad_jwks_claim_is_refused(key: Any, jwks: dict[str, Any]) -> None:
    token = signed(key, claims({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": KID}]}))
    refused(token, jwks, Reason.INVALID_JWKS)


def test_a_malformed_trusted_key_is_a_verification_failure(key: Any) -> None:
    broken = {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": KID}]}
    token = signed(key, claims(broken))
    refused(token, broken, Reason.BAD_SIGNATURE)
