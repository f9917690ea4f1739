"""private_key_jwt at the token endpoint (RFC 7523 2.2 and 3, OIDC Core 9): a good assertion
works once (the jti replay cache), for the code exchange as for client credentials; every
forged, misaddressed, stale or replayed assertion is ``invalid_client`` and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.oidc.client_auth import CLIENT_ASSERTION_TYPE_JWT_BEARER
from idp.storage.models import ClientAuthMethod
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.test_token import ISSUER, Register, assert_error, make_code, snapshot, verify_jwt

TOKEN_URL = f"{ISSUER}/token"


@dataclass(frozen=True)
class JwtClient:
    client_id: str
    key: ec.EllipticCurvePrivateKey


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def jwt_client(register: Register) -> JwtClient:
    key = new_key()
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update({"kid": "k1", "alg": "ES256"})
    rp = register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks={"keys": [public]},
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )
    return JwtClient(rp.client_id, key)


def assertion(
    client_id: str,
    key: Any,
    *,
    claims: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **(claims or {}),
    }
    return jwt.encode(body, key, algorithm="ES256", headers={"kid": "k1", **(headers or {})})


def post_with_assertion(
    client: TestClient, client_id: str, signed: str, **data: str
) -> httpx.Response:
    return client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
            "client_assertion": signed,
            **data,
        },
    )


def test_a_good_assertion_works_once(client: TestClient, jwt_client: JwtClient) -> None:
    signed = assertion(jwt_client.client_id, jwt_client.key)
    first = post_with_assertion(client, jwt_client.client_id, signed)
    assert first.status_code == 200, first.text
    assert_error(post_with_assertion(client, jwt_client.client_id, signed), "invalid_client", 401)


def test_the_issuer_is_an_accepted_audience(client: TestClient, jwt_client: JwtClient) -> None:
    signed = assertion(jwt_client.client_id, jwt_client.key, claims={"aud": ISSUER})
    assert post_with_assertion(client, jwt_client.client_id, signed).status_code == 200


def test_code_exchange_and_refresh_with_private_key_jwt(
    app: FastAPI, client: TestClient, jwt_client: JwtClient, citizen_id: int
) -> None:
    issued = make_code(app, client_id=jwt_client.client_id, citizen_id=citizen_id)
    code_data = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": RP_REDIRECT_URI,
        "code_verifier": issued.verifier,
    }
    before = snapshot(app)
    forged = assertion(jwt_client.client_id, new_key())
    assert_error(
        post_with_assertion(client, jwt_client.client_id, forged, **code_data),
        "invalid_client",
        401,
    )
    assert snapshot(app) == before

    signed = assertion(jwt_client.client_id, jwt_client.key)
    response = post_with_assertion(client, jwt_client.client_id, signed, **code_data)
    assert response.status_code == 200, response.text
    body = response.json()
    _, claims = verify_jwt(app, body["id_token"], typ="JWT", audience=jwt_client.client_id)
    assert claims["nonce"] == "nonce-456"

    again = assertion(jwt_client.client_id, jwt_client.key)
    refreshed = post_with_assertion(
        client,
        jwt_client.client_id,
        again,
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.text


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_keyed_with_the_public_key(client_id: str, key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 8725 2.1: the algorithm-confusion attack (HMAC keyed with a public key)."""
    header = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL}
    claims.update({"exp": int(time.time()) + 60, "jti": uuid.uuid4().hex})
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem(key), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64(signature.digest())}"


def unsigned(client_id: str, key: ec.EllipticCurvePrivateKey) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "jti": uuid.uuid4().hex}
    claims["exp"] = int(time.time()) + 60
    return jwt.encode(claims, None, algorithm="none")


BAD_ASSERTIONS: dict[str, Callable[[str, ec.EllipticCurvePrivateKey], str]] = {
    "wrong-aud": lambda cid, key: assertion(cid, key, claims={"aud": "https://else.example/t"}),
    "expired": lambda cid, key: assertion(cid, key, claims={"exp": int(time.time()) - 120}),
    "iat-in-future": lambda cid, key: assertion(
        cid, key, claims={"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3700}
    ),
    "lives-too-long": lambda cid, key: assertion(
        cid, key, claims={"exp": int(time.time()) + 2 * 3600}
    ),
    "iss-not-sub": lambda cid, key: assertion(cid, key, claims={"sub": "someone-else"}),
    "no-jti": lambda cid, key: assertion(cid, key, claims={"jti": None}),
    "alg-none": unsigned,
    "hs256-public-key": hs256_keyed_with_the_public_key,
    "other-key": lambda cid, key: assertion(cid, new_key()),
    "unknown-kid": lambda cid, key: assertion(cid, key, headers={"kid": "unknown"}),
    "jwk-in-header": lambda cid, key: assertion(
        cid,
        (other := new_key()),
        headers={
            "kid": "unknown",
            "jwk": jwt.algorithms.ECAlgorithm.to_jwk(other.public_key(), as_dict=True),
        },
    ),
    "garbage": lambda cid, key: "not.a.jwt",
}


@pytest.mark.parametrize("make", BAD_ASSERTIONS.values(), ids=BAD_ASSERTIONS.keys())
def test_bad_assertions_are_invalid_client(
    app: FastAPI,
    client: TestClient,
    jwt_client: JwtClient,
    make: Callable[[str, ec.EllipticCurvePrivateKey], str],
) -> None:
    response = post_with_assertion(
        client, jwt_client.client_id, make(jwt_client.client_id, jwt_client.key)
    )
    assert_error(response, "invalid_client", 401)


def test_an_assertion_naming_another_client_is_refused(
    client: TestClient, jwt_client: JwtClient, register: Register
) -> None:
    other = register(client_name="Otro portal")
    signed = assertion(jwt_client.client_id, jwt_client.key)
    assert_error(post_with_assertion(client, other.client_id, signed), "invalid_client", 401)


def test_a_wrong_assertion_type_is_refused(client: TestClient, jwt_client: JwtClient) -> None:
    response = client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            "client_assertion": assertion(jwt_client.client_id, jwt_client.key),
        },
    )
    assert_error(response, "invalid_client", 401)


def test_a_jwks_uri_on_a_link_local_address_is_never_fetched(
    client: TestClient, register: Register
) -> None:
    rp = register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks_uri="https://169.254.169.254/latest/meta-data/jwks",
        grant_types=["authorization_code", "client_credentials"],
    )
    signed = assertion(rp.client_id, new_key())
    assert_error(post_with_assertion(client, rp.client_id, signed), "invalid_client", 401)
