"""Token substitution between kinds of JWT (RFC 8725 3.11 "Use Explicit Typing", 2.8
"Substitution Attacks"): the provider signs ID tokens (``typ: JWT``), access tokens
(``at+jwt``, RFC 9068 2.1) and logout tokens (``logout+jwt``, OIDC Back-Channel Logout 1.0
2.4) with the same keys, and a Trust Anchor's entity statements are ``entity-statement+jwt``
(OpenID Federation 1.0, 3). Each endpoint that reads a token back accepts its own kind only.

These tests drive the endpoints, not ``idp.oidc.jose`` alone, so that an endpoint asking for
the wrong ``typ`` (or for any) fails them. The unit cases of the verifier are in
``tests/security/test_jose_attacks.py``; an ID token offered where an entity statement is
expected in ``tests/federation/test_statements.py::test_typ_must_be_exactly_entity_statement_jwt``.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.oidc import backchannel, jose, tokens
from idp.storage import clients as client_store
from idp.storage.models import BackchannelLogoutDelivery
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import authorize_url, obtain_code, pkce_pair, query_of, redeem

ISSUER = "http://127.0.0.1:8000"
BYE = "https://rp.example.gub.uy/bye"
ENTITY_STATEMENT_TYPE = "entity-statement+jwt"
OTHER_KINDS_THAN_ACCESS_TOKENS = [
    tokens.ID_TOKEN_TYPE,
    tokens.LOGOUT_TOKEN_TYPE,
    ENTITY_STATEMENT_TYPE,
]


def _signed_in_with_tokens(client: TestClient, register: Any) -> tuple[Any, dict[str, Any]]:
    rp = register(
        post_logout_redirect_uris=[BYE],
        backchannel_logout_uri="https://rp.example.gub.uy/backchannel",
    )
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    issued = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
    assert issued.status_code == 200, issued.text
    return rp, issued.json()


def _logout_token_for(app: FastAPI, client_id: str, id_token: str) -> str:
    """The logout token the provider queues for this client's back-channel endpoint (what
    the relying party receives, and what leaks from its logs): same key, same ``iss``, the
    client as ``aud``, the citizen's ``sub``; only its ``typ`` tells it from an ID token."""
    id_claims = jwt.decode(id_token, options={"verify_signature": False})
    provider = app.state.provider
    with provider.database.transaction() as session:
        client_row = client_store.get_client(session, client_id=client_id)
        assert client_row is not None
        backchannel.enqueue(
            session,
            provider,
            client=client_row,
            subject=id_claims["sub"],
            sid=id_claims.get("sid"),
            now=provider.clock(),
        )
        token: str = session.scalars(
            select(BackchannelLogoutDelivery.logout_token).order_by(
                BackchannelLogoutDelivery.id.desc()
            )
        ).first()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["sub"]) == (client_id, id_claims["sub"])
    assert jwt.get_unverified_header(token)["typ"] == tokens.LOGOUT_TOKEN_TYPE
    return token


def test_a_logout_token_is_not_an_id_token_hint_at_rp_initiated_logout(
    app: FastAPI, client: TestClient, register: Any, citizen_id: int
) -> None:
    """RP-Initiated Logout 1.0 2 with Back-Channel Logout 1.0 2.4: a logout token names the
    same citizen for the same client as an ID token; taken as an ``id_token_hint`` it would
    log the citizen out without asking (a logout CSRF from a token the RP received)."""
    rp, issued = _signed_in_with_tokens(client, register)
    logout_token = _logout_token_for(app, rp.client_id, issued["id_token"])
    for hint in (logout_token, issued["access_token"]):
        response = client.get(
            "/logout/oidc",
            params={"id_token_hint": hint, "post_logout_redirect_uri": BYE, "state": "s1"},
            follow_redirects=False,
        )
        assert response.status_code == 200, response.headers.get("location")
        assert 'name="confirm"' in response.text  # the citizen is asked
    assert client.get("/account", follow_redirects=False).status_code == 200  # still signed in


def test_a_logout_token_is_not_an_id_token_hint_at_authorize(
    app: FastAPI, client: TestClient, register: Any, citizen_id: int
) -> None:
    """OIDC Core 3.1.2.1: the ``id_token_hint`` is an ID token the provider issued; a logout
    token or an access token in its place is an ``invalid_request``."""
    rp, issued = _signed_in_with_tokens(client, register)
    logout_token = _logout_token_for(app, rp.client_id, issued["id_token"])
    for hint in (logout_token, issued["access_token"]):
        _, challenge = pkce_pair()
        url = authorize_url(
            rp.client_id, RP_REDIRECT_URI, challenge, prompt="none", id_token_hint=hint
        )
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, response.text
        params = query_of(response.headers["location"])
        assert params["error"] == "invalid_request", params
        assert "code" not in params


@pytest.mark.parametrize("typ", OTHER_KINDS_THAN_ACCESS_TOKENS)
def test_only_an_access_token_is_a_bearer_token_at_userinfo(
    app: FastAPI, client: TestClient, register: Any, citizen_id: int, typ: str
) -> None:
    """RFC 9068 4: the resource server checks ``typ: at+jwt``. The token here carries every
    claim of the real access token (same key, audience, grant and ``jti``), so only its
    ``typ`` (that of an ID token, a logout token or an entity statement) is wrong."""
    _, issued = _signed_in_with_tokens(client, register)
    genuine = issued["access_token"]
    assert (
        client.get("/userinfo", headers={"authorization": f"Bearer {genuine}"}).status_code == 200
    )
    claims = jwt.decode(genuine, options={"verify_signature": False})
    retyped = jose.sign(app.state.provider.keyring, claims, alg="ES256", typ=typ)
    for token in (retyped, issued["id_token"]):
        response = client.get("/userinfo", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
