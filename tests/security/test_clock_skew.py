"""Clock skew for the JWTs the provider receives: a few seconds tolerated, a minute refused.

Client assertions (``private_key_jwt``, RFC 7523 3 items 4-6: ``exp`` must be in the future,
``nbf`` in the past, ``iat`` may be checked; "a small leeway, usually no more than a few
minutes"; this provider allows ``IDP_CLOCK_SKEW_SECONDS``, 10 by default). Too wide a leeway
lets a stolen, expired assertion be replayed once its ``jti`` left the replay cache; none at all
refuses honest clients whose clocks drift. The provider's own access tokens at UserInfo are
covered here at the endpoint (and ``idp.oidc.jose`` alone in
``tests/security/test_jose_attacks.py``); logout tokens are only issued here, never
received, and an ``id_token_hint`` may be expired by design (RP-Initiated Logout 1.0, 2).
"""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.config import Settings
from idp.oidc import jose
from idp.oidc.tokens import ACCESS_TOKEN_TYPE
from idp.storage.models import ClientAuthMethod
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import obtain_code, redeem
from tests.oidc.test_token import Register
from tests.oidc.test_token_client_auth import (
    JwtClient,
    assertion,
    new_key,
    post_with_assertion,
)

FEW_SECONDS = 5
A_MINUTE = 60


@pytest.fixture
def jwt_client(register: Register) -> JwtClient:
    key = new_key()
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update({"kid": "k1", "alg": "ES256"})
    rp = register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks={"keys": [public]},
        grant_types=["client_credentials"],
    )
    return JwtClient(rp.client_id, key)


def test_the_default_leeway_is_a_few_seconds(settings: Settings) -> None:
    assert FEW_SECONDS < settings.clock_skew_seconds < A_MINUTE


def skewed_assertion(jwt_client: JwtClient, offsets: dict[str, int]) -> str:
    """An assertion whose ``iat``/``exp``/``nbf`` are ``now`` plus the given offsets."""
    now = int(time.time())
    claims = {"iat": now, "exp": now + A_MINUTE}
    claims.update({name: now + offset for name, offset in offsets.items()})
    return assertion(jwt_client.client_id, jwt_client.key, claims=claims)


TOLERATED = {
    "exp-just-past": {"exp": -FEW_SECONDS},
    "iat-just-ahead": {"iat": FEW_SECONDS},
    "nbf-just-ahead": {"nbf": FEW_SECONDS},
}
REFUSED = {
    "exp-a-minute-past": {"iat": -2 * A_MINUTE, "exp": -A_MINUTE},
    "iat-a-minute-ahead": {"iat": A_MINUTE, "exp": 2 * A_MINUTE},
    "nbf-a-minute-ahead": {"nbf": A_MINUTE, "exp": 2 * A_MINUTE},
}


@pytest.mark.parametrize("offsets", TOLERATED.values(), ids=TOLERATED.keys())
def test_a_client_assertion_a_few_seconds_off_is_accepted(
    client: TestClient, jwt_client: JwtClient, offsets: dict[str, int]
) -> None:
    signed = skewed_assertion(jwt_client, offsets)
    response = post_with_assertion(client, jwt_client.client_id, signed)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("offsets", REFUSED.values(), ids=REFUSED.keys())
def test_a_client_assertion_a_minute_off_is_refused(
    client: TestClient, jwt_client: JwtClient, offsets: dict[str, int]
) -> None:
    signed = skewed_assertion(jwt_client, offsets)
    response = post_with_assertion(client, jwt_client.client_id, signed)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def _access_token_expired(app: FastAPI, client: TestClient, register: Register, ago: int) -> str:
    """A real access token of a signed-in citizen, re-signed with ``exp`` ``ago`` seconds in
    the past (everything else as issued)."""
    rp = register()
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    issued = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
    claims = jwt.decode(issued.json()["access_token"], options={"verify_signature": False})
    now = int(time.time())
    claims.update({"iat": now - ago - A_MINUTE, "exp": now - ago})
    return jose.sign(app.state.provider.keyring, claims, alg="ES256", typ=ACCESS_TOKEN_TYPE)


def test_an_access_token_expired_a_few_seconds_ago_still_works_at_userinfo(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    """RFC 7519 4.1.4 ("some small leeway ... to account for clock skew"): the resource
    server's clock may run ahead of the one that issued the token."""
    token = _access_token_expired(app, client, register, FEW_SECONDS)
    response = client.get("/userinfo", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def test_an_access_token_expired_a_minute_ago_is_refused_at_userinfo(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    token = _access_token_expired(app, client, register, A_MINUTE)
    response = client.get("/userinfo", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
