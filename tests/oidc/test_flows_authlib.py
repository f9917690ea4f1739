"""End-to-end flows with authlib's own OAuth 2.0 / OIDC client as the relying party, against
the provider served by uvicorn on 127.0.0.1 (real HTTP, discovery, JWKS).

Each test registers its client through the real registration rules, lets a no-JavaScript
"browser" log in and consent, and then uses only what a relying-party library does:
discovery, the token endpoint, JWKS validation of the ID token, UserInfo, refresh,
introspection, revocation and RP-initiated logout.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

from idp.app import create_app
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.clients import ApplicationType, ClientMetadata, SubjectType, register_client
from idp.storage.models import ClientAuthMethod
from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME, add_citizen
from tests.support.browser_flow import authorize_in_browser
from tests.support.live_server import free_port, serve_app

REDIRECT_URI = "https://portal.example.gub.uy/callback"
LOGOUT_REDIRECT_URI = "https://portal.example.gub.uy/bye"


@dataclass
class LiveProvider:
    issuer: str
    metadata: dict[str, Any]
    app: Any

    def register(self, **overrides: Any) -> tuple[str, str | None]:
        values: dict[str, Any] = {
            "client_name": "Portal de trámites",
            "redirect_uris": [REDIRECT_URI],
            "post_logout_redirect_uris": [LOGOUT_REDIRECT_URI],
            "token_endpoint_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC,
            "application_type": ApplicationType.WEB,
        }
        values.update(overrides)
        with self.app.state.provider.database.transaction() as session:
            row, secret = register_client(session, metadata=ClientMetadata(**values), now=utc_now())
        return row.client_id, secret

    def jwks(self) -> jwt.PyJWKSet:
        return jwt.PyJWKSet.from_dict(httpx.get(self.metadata["jwks_uri"]).json())


@pytest.fixture
def live(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[LiveProvider]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(settings_factory(sqlite_database_url, issuer=issuer))
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    with serve_app(app, port=port) as base_url:
        assert base_url == issuer
        metadata = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
        yield LiveProvider(issuer=issuer, metadata=metadata, app=app)
    provider.database.dispose()


def _log_in_and_authorize(
    live: LiveProvider, client: OAuth2Client, *, scope: str, response_mode: str | None = None
) -> tuple[dict[str, str], str, str, httpx.Client]:
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    extra = {"response_mode": response_mode} if response_mode else {}
    url, state = client.create_authorization_url(
        live.metadata["authorization_endpoint"],
        code_verifier=verifier,
        nonce=nonce,
        scope=scope,
        **extra,
    )
    browser = httpx.Client()
    received = authorize_in_browser(
        browser, url, redirect_uri=REDIRECT_URI, username=DEMO_USERNAME, password=DEMO_PASSWORD
    )
    assert received.mode == (response_mode or "query")
    assert received.params["state"] == state
    assert received.params["iss"] == live.issuer  # RFC 9207
    return received.params, verifier, nonce, browser


def _validate_id_token(
    live: LiveProvider, id_token: str, *, client_id: str, nonce: str | None, alg: str = "RS256"
) -> dict[str, Any]:
    header = jwt.get_unverified_header(id_token)
    assert header["alg"] == alg
    key = live.jwks()[header["kid"]]
    claims = jwt.decode(id_token, key.key, algorithms=[alg], audience=client_id, issuer=live.issuer)
    assert claims["azp"] == client_id
    if nonce is not None:
        assert claims["nonce"] == nonce
    for name in ("sub", "iat", "exp", "auth_time", "sid", "at_hash", "amr"):
        assert name in claims
    return claims


def _fetch_token(
    live: LiveProvider, client: OAuth2Client, params: dict[str, str], verifier: str
) -> dict[str, Any]:
    callback = f"{REDIRECT_URI}?{urlencode(params)}"
    return dict(
        client.fetch_token(
            live.metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
    )


def test_confidential_client_full_lifecycle_with_client_secret_basic(live: LiveProvider) -> None:
    client_id, secret = live.register()
    client = OAuth2Client(
        client_id,
        secret,
        token_endpoint_auth_method="client_secret_basic",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    params, verifier, nonce, browser = _log_in_and_authorize(
        live, client, scope="openid profile email document offline_access"
    )
    token = _fetch_token(live, client, params, verifier)
    assert token["token_type"].lower() == "bearer"
    claims = _validate_id_token(live, token["id_token"], client_id=client_id, nonce=nonce)

    access_header = jwt.get_unverified_header(token["access_token"])
    assert access_header["typ"].lower() in ("at+jwt", "application/at+jwt")

    userinfo = client.get(live.metadata["userinfo_endpoint"]).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["given_name"] == "María"
    assert userinfo["document_number"] == "12345672"

    refreshed = dict(client.refresh_token(live.metadata["token_endpoint"]))
    assert refreshed["refresh_token"] != token["refresh_token"]
    _validate_id_token(live, refreshed["id_token"], client_id=client_id, nonce=None)

    introspection = httpx.post(
        live.metadata["introspection_endpoint"],
        auth=(client_id, secret),
        data={"token": refreshed["access_token"]},
    ).json()
    assert introspection["active"] is True
    assert introspection["client_id"] == client_id

    # The rotated refresh token is dead; using it again revokes the whole family.
    reuse = httpx.post(
        live.metadata["token_endpoint"],
        auth=(client_id, secret),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
    )
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    after_reuse = httpx.post(
        live.metadata["introspection_endpoint"],
        auth=(client_id, secret),
        data={"token": refreshed["access_token"]},
    ).json()
    assert after_reuse == {"active": False}

    # RP-initiated logout with the ID token as hint and a registered post-logout URI.
    logout = browser.get(
        live.metadata["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": LOGOUT_REDIRECT_URI,
            "state": "bye-state",
        },
        follow_redirects=False,
    )
    assert logout.status_code in (302, 303)
    location = urlsplit(logout.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LOGOUT_REDIRECT_URI
    assert dict(parse_qsl(location.query))["state"] == "bye-state"


def test_client_secret_post_with_form_post_response_mode(live: LiveProvider) -> None:
    client_id, secret = live.register(
        token_endpoint_auth_method=ClientAuthMethod.CLIENT_SECRET_POST
    )
    client = OAuth2Client(
        client_id,
        secret,
        token_endpoint_auth_method="client_secret_post",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    params, verifier, nonce, _ = _log_in_and_authorize(
        live, client, scope="openid profile", response_mode="form_post"
    )
    token = _fetch_token(live, client, params, verifier)
    _validate_id_token(live, token["id_token"], client_id=client_id, nonce=nonce)
    userinfo = client.get(live.metadata["userinfo_endpoint"]).json()
    assert userinfo["family_name"] == "Rodríguez"
    assert "document_number" not in userinfo  # not granted: the document scope was not asked


def test_private_key_jwt_client(live: LiveProvider) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    public_jwk.update({"kid": "rp-key-1", "alg": "RS256", "use": "sig"})
    client_id, secret = live.register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT, jwks={"keys": [public_jwk]}
    )
    assert secret is None
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    client = OAuth2Client(
        client_id,
        pem,
        token_endpoint_auth_method=PrivateKeyJWT(
            live.metadata["token_endpoint"], alg="RS256", headers={"kid": "rp-key-1"}
        ),
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    params, verifier, nonce, _ = _log_in_and_authorize(live, client, scope="openid profile")
    token = _fetch_token(live, client, params, verifier)
    _validate_id_token(live, token["id_token"], client_id=client_id, nonce=nonce)


def test_public_client_uses_pkce_only(live: LiveProvider) -> None:
    client_id, secret = live.register(
        token_endpoint_auth_method=ClientAuthMethod.NONE, application_type=ApplicationType.WEB
    )
    assert secret is None
    client = OAuth2Client(
        client_id,
        token_endpoint_auth_method="none",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    params, verifier, nonce, _ = _log_in_and_authorize(live, client, scope="openid")
    token = _fetch_token(live, client, params, verifier)
    _validate_id_token(live, token["id_token"], client_id=client_id, nonce=nonce)
    assert "refresh_token" not in token  # public client without offline_access


def test_pairwise_and_public_subjects(live: LiveProvider) -> None:
    subjects = {}
    for name, subject_type in (("public", SubjectType.PUBLIC), ("pairwise", SubjectType.PAIRWISE)):
        client_id, secret = live.register(subject_type=subject_type, client_name=name)
        client = OAuth2Client(
            client_id,
            secret,
            token_endpoint_auth_method="client_secret_basic",
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
        )
        params, verifier, nonce, _ = _log_in_and_authorize(live, client, scope="openid")
        token = _fetch_token(live, client, params, verifier)
        subjects[name] = _validate_id_token(
            live, token["id_token"], client_id=client_id, nonce=nonce
        )["sub"]
        assert client.get(live.metadata["userinfo_endpoint"]).json()["sub"] == subjects[name]
    assert subjects["public"] != subjects["pairwise"]
