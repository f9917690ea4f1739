"""JOSE handling of the provider's own tokens (``idp.oidc.jose.verify``): every token the
provider accepts back (access tokens at UserInfo and introspection, ID tokens as
``id_token_hint``, logout tokens) passes through it. Each test names the flaw it guards against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.oidc import jose
from idp.oidc.jose import TokenInvalid
from idp.signing_keys.keyring import KeyRing
from tests.support.hypothesis_profiles import examples

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "client-1"
LEEWAY = 10


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "subject-1",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def keyring(app: FastAPI) -> KeyRing:
    ring: KeyRing = app.state.provider.keyring
    return ring


@pytest.fixture
def verify(keyring: KeyRing) -> Callable[..., jose.VerifiedToken]:
    def run(token: str, typ: str = "JWT", **options: Any) -> jose.VerifiedToken:
        return jose.verify(
            token,
            keyring=keyring,
            typ=typ,
            issuer=ISSUER,
            audience=options.pop("audience", AUDIENCE),
            leeway=LEEWAY,
            **options,
        )

    return run


def _forge(keyring: KeyRing, header: dict[str, Any], claims: dict[str, Any], alg: str) -> str:
    """Sign with the provider's real key, but a header and claims of our choosing (PyJWS
    signs any bytes, so claims PyJWT would refuse to encode can be sent)."""
    material = keyring.signing_material(alg)
    return jwt.api_jws.PyJWS().encode(
        json.dumps(claims).encode(),
        material.private_key,
        algorithm=alg,
        headers={"kid": material.kid, **header},
    )


def test_a_genuine_token_verifies(keyring: KeyRing, verify) -> None:
    token = jose.sign(keyring, _claims(), alg="ES256", typ="JWT")
    assert verify(token).claims["sub"] == "subject-1"


def test_alg_none_is_refused(keyring: KeyRing, verify) -> None:
    """CVE-2015-9235 (node-jsonwebtoken) and the whole 'alg: none' family."""
    kid = keyring.signing_material("ES256").kid
    unsigned = jwt.encode(_claims(), None, algorithm="none", headers={"kid": kid, "typ": "JWT"})
    with pytest.raises(TokenInvalid, match="is not accepted"):  # the allow-list, before any key
        verify(unsigned)
    with pytest.raises(TokenInvalid):
        verify(unsigned.rsplit(".", 1)[0] + ".")


def test_hs256_keyed_with_the_public_key_is_refused(keyring: KeyRing, verify) -> None:
    """Algorithm confusion: CVE-2022-29217 (PyJWT), CVE-2016-10555 (jwt-simple)."""
    material = keyring.signing_material("RS256")
    public_pem = (
        keyring.published_key(material.kid)
        .public_key.public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": material.kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signature = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    forged = f"{header}.{payload}.{_b64(signature.digest())}"
    with pytest.raises(TokenInvalid, match="is not accepted"):  # the allow-list, before any key
        verify(forged)


def test_an_algorithm_other_than_the_keys_own_is_refused(keyring: KeyRing, verify) -> None:
    """The algorithm is pinned per key: an RS256 key's kid with PS256 is refused even though
    both are RSA signatures."""
    material = keyring.signing_material("RS256")
    token = jwt.encode(
        _claims(), material.private_key, algorithm="PS256", headers={"kid": material.kid}
    )
    with pytest.raises(TokenInvalid, match="does not match the key"):
        verify(token)


def test_ecdsa_signature_with_r_and_s_zero_is_refused(keyring: KeyRing, verify) -> None:
    """CVE-2022-21449 ('psychic signatures'): an all-zero ECDSA signature."""
    genuine = jose.sign(keyring, _claims(), alg="ES256", typ="JWT")
    signing_input = genuine.rsplit(".", 1)[0]
    with pytest.raises(TokenInvalid):
        verify(f"{signing_input}.{_b64(bytes(64))}")


def test_an_unknown_critical_header_is_refused(keyring: KeyRing, verify) -> None:
    """RFC 7515 4.1.11: a recipient that does not understand a crit extension must reject."""
    token = _forge(keyring, {"typ": "JWT", "crit": ["exp-v2"], "exp-v2": 1}, _claims(), "ES256")
    with pytest.raises(TokenInvalid, match="crit"):
        verify(token)


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_keys_carried_in_the_header_are_never_trusted(member: str, verify) -> None:
    """CVE-2018-0114 (node-jose trusted an embedded jwk): a token signed by the attacker's
    own key, which the header carries or points to, is refused."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    values: dict[str, Any] = {
        "jwk": public_jwk,
        "jku": "https://evil.example/jwks.json",
        "x5u": "https://evil.example/cert.pem",
        "x5c": ["MIIB"],
    }
    headers = {"typ": "JWT", "kid": public_jwk.get("kid", "attacker"), member: values[member]}
    token = jwt.encode(_claims(), attacker, algorithm="ES256", headers=headers)
    with pytest.raises(TokenInvalid):
        verify(token)


def test_oversized_tokens_are_refused_before_parsing(keyring: KeyRing, verify) -> None:
    token = jose.sign(keyring, _claims(padding="x" * 20_000), alg="ES256", typ="JWT")
    with pytest.raises(TokenInvalid, match="size"):
        verify(token)
    with pytest.raises(TokenInvalid):
        verify("a.b.c.d.e")
    with pytest.raises(TokenInvalid):
        verify("%%%." * 2 + "x")


def _reencoded_header(token: str, encode: Callable[[bytes], str]) -> str:
    header, rest = token.split(".", 1)
    raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    return f"{encode(raw)}.{rest}"


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda raw: base64.b64encode(b"\xfb" + raw).decode(), id="standard-alphabet"),
        pytest.param(lambda raw: base64.urlsafe_b64encode(raw).decode() + "==", id="padded"),
        pytest.param(lambda raw: _b64(raw)[:-1] + "!", id="junk-character"),
        pytest.param(lambda raw: _b64(b"[1, 2]"), id="json-array"),
        pytest.param(lambda raw: _b64(b"\xff\xfe"), id="not-utf8"),
        pytest.param(lambda raw: _b64(raw) + "A", id="one-extra-character"),
    ],
)
def test_a_header_that_is_not_strict_base64url_json_is_refused(
    keyring: KeyRing, verify, encode: Callable[[bytes], str]
) -> None:
    """The header is read on its own to choose the key (``jose.unverified_header``); whatever
    that read lets through, PyJWT's full parse must refuse too."""
    token = jose.sign(keyring, _claims(), alg="ES256", typ="JWT")
    with pytest.raises(TokenInvalid):
        verify(_reencoded_header(token, encode))


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:8000/evil",
        "http://127.0.0.1:800",  # a substring of the real issuer (CVE-2024-53861, PyJWT)
        ["http://127.0.0.1:8000"],
        ["http://evil.example", "http://127.0.0.1:8000"],
        None,
    ],
)
def test_iss_must_be_exactly_the_issuer(keyring: KeyRing, verify, issuer: Any) -> None:
    token = _forge(keyring, {"typ": "JWT"}, _claims(iss=issuer), "ES256")
    with pytest.raises(TokenInvalid):
        verify(token)


@pytest.mark.parametrize(
    ("issued_as", "expected"),
    [
        ("JWT", "at+jwt"),  # an ID token presented as an access token
        ("at+jwt", "JWT"),  # an access token presented as an ID token hint
        ("logout+jwt", "at+jwt"),
        ("entity-statement+jwt", "at+jwt"),
        ("at+jwt", "logout+jwt"),
    ],
)
def test_typ_confusion_between_token_kinds_is_refused(
    keyring: KeyRing, verify, issued_as: str, expected: str
) -> None:
    token = jose.sign(keyring, _claims(), alg="ES256", typ=issued_as)
    with pytest.raises(TokenInvalid, match="typ"):
        verify(token, typ=expected)


def test_a_missing_typ_is_refused(keyring: KeyRing, verify) -> None:
    token = _forge(keyring, {"typ": None}, _claims(), "ES256")
    assert "typ" not in jwt.get_unverified_header(token)
    with pytest.raises(TokenInvalid, match="typ"):
        verify(token)


def test_audience_must_name_the_recipient(keyring: KeyRing, verify) -> None:
    token = jose.sign(keyring, _claims(aud="another-client"), alg="ES256", typ="JWT")
    with pytest.raises(TokenInvalid):
        verify(token)


def test_clock_skew_of_a_few_seconds_is_tolerated_a_minute_is_not(keyring: KeyRing, verify) -> None:
    now = int(time.time())
    just_expired = jose.sign(keyring, _claims(exp=now - 5), alg="ES256", typ="JWT")
    assert verify(just_expired).claims["sub"] == "subject-1"
    long_expired = jose.sign(keyring, _claims(exp=now - 60), alg="ES256", typ="JWT")
    with pytest.raises(TokenInvalid, match="Expired"):
        verify(long_expired)
    from_the_future = jose.sign(keyring, _claims(iat=now + 60), alg="ES256", typ="JWT")
    with pytest.raises(TokenInvalid):
        verify(from_the_future)
    missing_exp = jose.sign(keyring, _claims(exp=None), alg="ES256", typ="JWT")
    with pytest.raises(TokenInvalid):
        verify(missing_exp)


def test_a_flipped_bit_anywhere_breaks_the_token(keyring: KeyRing, verify) -> None:
    token = jose.sign(keyring, _claims(), alg="ES256", typ="JWT")
    header, _payload, signature = token.split(".")
    tampered_payload = _b64(json.dumps(_claims(sub="someone-else")).encode())
    with pytest.raises(TokenInvalid):
        verify(f"{header}.{tampered_payload}.{signature}")


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(position=st.integers(min_value=0, max_value=10_000), replacement=st.characters())
def test_any_single_character_change_is_refused_cleanly(
    keyring: KeyRing, verify, position: int, replacement: str
) -> None:
    """Property: a token changed in any one character never verifies, and the verifier only
    ever answers ``TokenInvalid`` (never another exception, which would be a 500)."""
    token = jose.sign(keyring, _claims(), alg="ES256", typ="JWT")
    index = position % len(token)
    if token[index] == replacement:
        return
    changed = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(TokenInvalid):
        verify(changed)


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "crit", "jku", "x5c", "b64", "zip", "cty"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
        max_size=6,
    ),
    claims=st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "exp", "iat", "nbf"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(), max_size=2)),
        max_size=6,
    ),
)
def test_arbitrary_headers_and_claims_never_crash_the_verifier(
    verify, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    """Property: whatever a forger puts in the header and payload (unsigned here), the answer
    is ``TokenInvalid``."""
    token = ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(b"sig"))
    )
    with pytest.raises(TokenInvalid):
        verify(token)
