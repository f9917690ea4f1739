"""Discovery (OIDC Discovery 1.0, RFC 8414), JWKS, and UserInfo (OIDC Core 5.3, RFC 6750)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import jwt
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import JWKRegistry

from idp.app import create_app
from idp.config import Settings
from idp.oidc import jose, tokens
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import obtain_code, redeem


def test_discovery_describes_exactly_this_provider(client: TestClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["issuer"] == "http://127.0.0.1:8000"
    for name, value in metadata.items():
        if name.endswith("_endpoint") or name == "jwks_uri":
            assert value.startswith(metadata["issuer"] + "/")
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"RS256", "ES256"} <= set(metadata["id_token_signing_alg_values_supported"])
    assert client.get("/.well-known/oauth-authorization-server").json() == metadata


def test_an_https_issuer_is_announced_byte_for_byte(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    issuer = "https://id.example.gub.uy"
    app = create_app(settings_factory(sqlite_database_url, issuer=issuer))
    with TestClient(app, base_url=issuer) as http:
        assert http.get("/.well-known/openid-configuration").json()["issuer"] == issuer
    app.state.provider.database.dispose()


def test_jwks_holds_public_keys_named_by_thumbprint(client: TestClient, app: FastAPI) -> None:
    response = client.get("/jwks.json")
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    keys = response.json()["keys"]
    assert len(keys) == 2
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert JWKRegistry.import_key(key).thumbprint() == key["kid"]


def _tokens(client: TestClient, register, **metadata: object) -> tuple[dict, object]:
    rp = register(**metadata)
    code, verifier = obtain_code(
        client, rp.client_id, RP_REDIRECT_URI, scope="openid profile document"
    )
    return redeem(
        client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI
    ).json(), rp


def test_userinfo_by_header_and_by_form_body(client: TestClient, register, citizen_id: int) -> None:
    issued, _ = _tokens(client, register)
    header = client.get("/userinfo", headers={"authorization": f"Bearer {issued['access_token']}"})
    body = client.post("/userinfo", data={"access_token": issued["access_token"]})
    assert header.status_code == body.status_code == 200
    assert header.json() == body.json()
    assert header.json()["document_number"] == "12345672"
    assert header.headers["cache-control"] == "no-store"
    both = client.post(
        "/userinfo",
        headers={"authorization": f"Bearer {issued['access_token']}"},
        data={"access_token": issued["access_token"]},
    )
    assert both.status_code == 400


def test_userinfo_refuses_what_is_not_a_live_access_token(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    issued, _ = _tokens(client, register)
    missing = client.get("/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    for token in ("garbage", issued["id_token"], issued["access_token"][:-3] + "AAA"):
        response = client.get("/userinfo", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
    claims = jwt.decode(issued["access_token"], options={"verify_signature": False})
    provider = app.state.provider
    expired = tokens.access_token_claims(
        issuer=claims["iss"],
        audience=claims["aud"],
        subject=claims["sub"],
        client_id=claims["client_id"],
        scope=claims["scope"],
        now=provider.clock() - timedelta(hours=2),
        ttl=timedelta(minutes=5),
        jti="old",
        grant_id=claims["grant_id"],
    )
    token = jose.sign(provider.keyring, expired, alg="ES256", typ="at+jwt")
    assert client.get("/userinfo", headers={"authorization": f"Bearer {token}"}).status_code == 401
    unsigned = jwt.encode({**claims, "jti": "x"}, None, algorithm="none", headers={"typ": "at+jwt"})
    assert (
        client.get("/userinfo", headers={"authorization": f"Bearer {unsigned}"}).status_code == 401
    )


def test_signed_userinfo_when_the_client_registered_it(
    client: TestClient, register, citizen_id: int, app: FastAPI
) -> None:
    issued, rp = _tokens(client, register, userinfo_signed_response_alg="ES256")
    response = client.get(
        "/userinfo", headers={"authorization": f"Bearer {issued['access_token']}"}
    )
    assert response.headers["content-type"].startswith("application/jwt")
    header = jwt.get_unverified_header(response.text)
    key = jwt.PyJWKSet.from_dict(app.state.provider.keyring.jwks())[header["kid"]]
    claims = jwt.decode(response.text, key.key, algorithms=["ES256"], audience=rp.client_id)
    assert claims["given_name"] == "María"


def test_generated_client_ids_never_look_like_options() -> None:
    from idp.oidc.clients import new_client_id

    ids = [new_client_id() for _ in range(2000)]
    assert all(client_id[0].isalnum() for client_id in ids)
    assert len(set(ids)) == len(ids)
