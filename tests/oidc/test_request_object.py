"""Signed request objects at the authorization endpoint (OIDC Core 6.1, RFC 9101), for
statically registered clients with keys: real PyJWT-signed objects, the real app and database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.oidc.request_object import REQUEST_OBJECT_TYP
from idp.storage.models import ClientAssertionJti, ClientAuthMethod
from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient
from tests.oidc.flow import pkce_pair, query_of
from tests.support.browser_flow import authorize_in_browser

ISSUER = "http://127.0.0.1:8000"
OTHER_REDIRECT_URI = "https://rp.example.gub.uy/other"
KEY = ec.generate_private_key(ec.SECP256R1())
KID = "rp-request-1"
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwks(key: ec.EllipticCurvePrivateKey = KEY, kid: str = KID) -> dict[str, Any]:
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "alg": "ES256", "use": "sig"}]}


@pytest.fixture
def rp(register: Callable[..., RegisteredClient], citizen_id: int) -> RegisteredClient:
    return register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks=public_jwks(),
        redirect_uris=[RP_REDIRECT_URI, OTHER_REDIRECT_URI],
    )


def claims_for(client_id: str, challenge: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": f"jti-{time.monotonic_ns()}",
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": RP_REDIRECT_URI,
        "scope": "openid profile",
        "state": "inner-state",
        "nonce": "inner-nonce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(
    claims: dict[str, Any],
    *,
    key: Any = KEY,
    alg: str = "ES256",
    typ: str | None = REQUEST_OBJECT_TYP,
    kid: str | None = KID,
) -> str:
    headers: dict[str, Any] = {}
    if kid is not None:
        headers["kid"] = kid
    if typ is not None:
        headers["typ"] = typ
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def authorize_path(client_id: str, request: str, **query: str) -> str:
    params = {"client_id": client_id, "response_type": "code", "scope": "openid"}
    params.update(query)
    params["request"] = request
    return "/authorize?" + urlencode(params)


def redirected_error(response: Any) -> dict[str, str]:
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(RP_REDIRECT_URI)
    return query_of(response.headers["location"])


def jti_rows(app: FastAPI) -> int:
    with app.state.provider.database.transaction() as session:
        return session.scalar(select(func.count()).select_from(ClientAssertionJti)) or 0


# --- the flow -------------------------------------------------------------------------------


def test_a_request_object_drives_the_whole_flow_and_the_query_is_ignored(
    client: TestClient, rp: RegisteredClient
) -> None:
    verifier, challenge = pkce_pair()
    request = sign(
        claims_for(
            rp.client_id,
            challenge,
            claims={"id_token": {"family_name": {"essential": True}}},
            max_age=3600,
        )
    )
    # Parameters outside the object (a second registered redirect URI, another state) are
    # not used (RFC 9101 6.3): the code goes to the object's redirect URI with its state.
    url = authorize_path(
        rp.client_id, request, redirect_uri=OTHER_REDIRECT_URI, state="outer", nonce="outer"
    )
    received = authorize_in_browser(
        client,
        url,
        redirect_uri=RP_REDIRECT_URI,
        username=DEMO_USERNAME,
        password=DEMO_PASSWORD,
    )
    assert received.params["state"] == "inner-state"
    assert received.params["iss"] == ISSUER
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": rp.client_id,
            "sub": rp.client_id,
            "aud": ISSUER,
            "iat": now,
            "exp": now + 60,
            "jti": "assertion-1",
        },
        KEY,
        algorithm="ES256",
        headers={"kid": KID},
    )
    token = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": received.params["code"],
            "redirect_uri": RP_REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": rp.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert token.status_code == 200, token.text
    id_token = jwt.decode(token.json()["id_token"], options={"verify_signature": False})
    assert id_token["nonce"] == "inner-nonce"
    assert id_token["aud"] == rp.client_id
    assert id_token["family_name"] == "Rodríguez"


def test_a_static_client_may_send_no_typ_or_jwt(client: TestClient, rp: RegisteredClient) -> None:
    for typ in (None, "JWT"):
        _, challenge = pkce_pair()
        request = sign(claims_for(rp.client_id, challenge), typ=typ)
        response = client.get(authorize_path(rp.client_id, request), follow_redirects=False)
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith("/login?")


# --- refusals -------------------------------------------------------------------------------


def hs256_with_the_public_key(claims: dict[str, Any]) -> str:
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": REQUEST_OBJECT_TYP, "kid": KID}
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    signing_input = b".".join(segments)
    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()


def alg_none(claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": REQUEST_OBJECT_TYP}
    segments = [
        jwt.utils.base64url_encode(json.dumps(part).encode()).decode() for part in (header, claims)
    ]
    return ".".join(segments) + "."


REFUSALS: dict[str, Callable[[dict[str, Any]], str]] = {
    "signed by another key": lambda claims: sign(claims, key=OTHER_KEY),
    "alg none": alg_none,
    "HS256 keyed with the public key": hs256_with_the_public_key,
    "another typ": lambda claims: sign(claims, typ="entity-statement+jwt"),
    "unknown kid": lambda claims: sign(claims, kid="not-a-key"),
    "wrong iss": lambda claims: sign({**claims, "iss": "someone-else"}),
    "wrong aud": lambda claims: sign({**claims, "aud": "https://op.example.org"}),
    "aud list without us": lambda claims: sign({**claims, "aud": ["https://op.example.org"]}),
    "expired": lambda claims: sign({**claims, "exp": int(time.time()) - 120}),
    "no exp": lambda claims: sign({k: v for k, v in claims.items() if k != "exp"}),
    "exp too far": lambda claims: sign({**claims, "exp": int(time.time()) + 3600}),
    "iat in the future": lambda claims: sign({**claims, "iat": int(time.time()) + 600}),
    "no jti": lambda claims: sign({k: v for k, v in claims.items() if k != "jti"}),
    "client_id of another": lambda claims: sign({**claims, "client_id": "other"}),
    "no response_type": lambda claims: sign(
        {k: v for k, v in claims.items() if k != "response_type"}
    ),
    "request_uri inside": lambda claims: sign({**claims, "request_uri": "https://x.example"}),
    "state not a string": lambda claims: sign({**claims, "state": 5}),
    "jwk header with its own key": lambda claims: jwt.encode(
        claims,
        OTHER_KEY,
        algorithm="ES256",
        headers={
            "typ": REQUEST_OBJECT_TYP,
            "jwk": jwt.algorithms.ECAlgorithm.to_jwk(OTHER_KEY.public_key(), as_dict=True),
        },
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_an_invalid_request_object_is_refused_to_the_registered_redirect_uri(
    app: FastAPI, client: TestClient, rp: RegisteredClient, case: str
) -> None:
    _, challenge = pkce_pair()
    request = REFUSALS[case](claims_for(rp.client_id, challenge))
    url = authorize_path(rp.client_id, request, redirect_uri=RP_REDIRECT_URI, state="outer")
    error = redirected_error(client.get(url, follow_redirects=False))
    assert error["error"] == "invalid_request_object"
    assert error["state"] == "outer"  # the object's own state cannot be trusted
    assert error["iss"] == ISSUER
    assert jti_rows(app) == 0


def test_without_a_registered_redirect_uri_in_the_query_the_refusal_is_a_page(
    client: TestClient, rp: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    forged = sign(claims_for(rp.client_id, challenge), key=OTHER_KEY)
    for query in ({}, {"redirect_uri": "https://evil.example/cb"}):
        response = client.get(authorize_path(rp.client_id, forged, **query))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request_object"


def test_a_request_object_is_used_once(
    app: FastAPI, client: TestClient, rp: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    request = sign(claims_for(rp.client_id, challenge))
    first = client.get(authorize_path(rp.client_id, request), follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?")
    assert jti_rows(app) == 1
    replayed = client.get(
        authorize_path(rp.client_id, request, redirect_uri=RP_REDIRECT_URI),
        follow_redirects=False,
    )
    # The object was valid: its own redirect URI and state are trusted for the error.
    error = redirected_error(replayed)
    assert error["error"] == "invalid_request_object"
    assert error["state"] == "inner-state"


def test_the_query_must_agree_with_the_object(client: TestClient, rp: RegisteredClient) -> None:
    _, challenge = pkce_pair()
    for query in ({"response_type": "token"}, {"scope": "openid email"}):
        request = sign(claims_for(rp.client_id, challenge))
        url = authorize_path(rp.client_id, request, redirect_uri=RP_REDIRECT_URI, **query)
        error = redirected_error(client.get(url, follow_redirects=False))
        assert error["error"] == "invalid_request_object", query


def test_the_rules_of_the_request_apply_to_the_objects_parameters(
    client: TestClient, rp: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    request = sign(claims_for(rp.client_id, challenge, code_challenge_method="plain"))
    response = client.get(authorize_path(rp.client_id, request), follow_redirects=False)
    error = redirected_error(response)
    assert error["error"] == "invalid_request"
    assert error["state"] == "inner-state"


def test_a_client_without_keys_cannot_send_request_objects(
    client: TestClient, register: Callable[..., RegisteredClient], citizen_id: int
) -> None:
    secret_client = register()
    _, challenge = pkce_pair()
    request = sign(claims_for(secret_client.client_id, challenge))
    url = authorize_path(secret_client.client_id, request, redirect_uri=RP_REDIRECT_URI)
    error = redirected_error(client.get(url, follow_redirects=False))
    assert error["error"] == "invalid_request_object"


def test_request_uri_stays_unsupported(client: TestClient, rp: RegisteredClient) -> None:
    _, challenge = pkce_pair()
    url = authorize_path(
        rp.client_id,
        sign(claims_for(rp.client_id, challenge)),
        redirect_uri=RP_REDIRECT_URI,
        request_uri="https://rp.example.gub.uy/request.jwt",
    )
    error = redirected_error(client.get(url, follow_redirects=False))
    assert error["error"] == "invalid_request_object"


def test_discovery_announces_request_objects(client: TestClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["request_parameter_supported"] is True
    assert metadata["request_uri_parameter_supported"] is False
    assert metadata["request_object_signing_alg_values_supported"] == [
        "RS256",
        "PS256",
        "ES256",
        "EdDSA",
    ]
    assert "client_registration_types_supported" not in metadata  # federation is off
