"""Token endpoint: single-use codes (also under 50 parallel redemptions), PKCE, refresh
rotation and reuse detection, client authentication failures (RFC 6749, RFC 7636, RFC 7523,
RFC 9700), and what revocation does to UserInfo and introspection."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.app import create_app
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.clients import ClientMetadata, GrantType, register_client
from idp.storage import grants
from idp.storage.models import ClientAuthMethod, Grant
from tests.helpers import add_citizen
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import obtain_code, redeem
from tests.support.live_server import free_port, serve_app

TOKEN_URL = "http://127.0.0.1:8000/token"


def _grant_ids(app: FastAPI) -> list[str]:
    with app.state.provider.database.transaction() as session:
        return [grant.id for grant in session.query(Grant).all()]


def _grant_active(app: FastAPI, grant_id: str) -> bool:
    with app.state.provider.database.transaction() as session:
        return grants.grant_is_active(session, grant_id=grant_id, now=utc_now())


def test_code_exchange_and_single_use(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    rp = register()
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    first = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    tokens = first.json()
    assert {"access_token", "id_token", "refresh_token", "expires_in"} <= set(tokens)
    assert (
        client.get(
            "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 200
    )

    again = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    (grant_id,) = _grant_ids(app)
    assert not _grant_active(app, grant_id)
    revoked = client.get("/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_grant"),
        ({"redirect_uri": RP_REDIRECT_URI + "/other"}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": None}, "invalid_request"),
    ],
)
def test_bad_code_exchanges(
    app: FastAPI, client: TestClient, register, citizen_id: int, change: dict, error: str
) -> None:
    rp = register()
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    data: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": RP_REDIRECT_URI,
        "code_verifier": verifier,
    }
    data.update(change)
    response = client.post(
        "/token",
        auth=(rp.client_id, rp.client_secret),
        data={k: v for k, v in data.items() if v is not None},
    )
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_a_code_of_another_client_and_an_expired_code(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    rp, other = register(), register(client_name="Otro")
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    stolen = redeem(client, other.client_id, other.client_secret, code, verifier, RP_REDIRECT_URI)
    assert stolen.json()["error"] == "invalid_grant"

    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    provider = app.state.provider
    later = provider.clock() + timedelta(seconds=61)
    provider.clock = lambda: later
    expired = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
    assert expired.json()["error"] == "invalid_grant"


def test_client_authentication_failures(client: TestClient, register) -> None:
    rp = register(grant_types=["authorization_code", "client_credentials"])
    wrong = client.post(
        "/token", auth=(rp.client_id, "wrong"), data={"grant_type": "client_credentials"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    post_method = client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert post_method.json()["error"] == "invalid_client"  # registered basic, used post
    assert client.get("/token").status_code == 405


def test_client_credentials(client: TestClient, register) -> None:
    rp = register(grant_types=["authorization_code", "client_credentials"])
    ok = client.post(
        "/token",
        auth=(rp.client_id, rp.client_secret),
        data={"grant_type": "client_credentials", "scope": "profile"},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert "id_token" not in body
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == rp.client_id
    userinfo = client.get("/userinfo", headers={"authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 401
    bad_scope = client.post(
        "/token",
        auth=(rp.client_id, rp.client_secret),
        data={"grant_type": "client_credentials", "scope": "openid"},
    )
    assert bad_scope.json()["error"] == "invalid_scope"
    plain = register()
    refused = client.post(
        "/token",
        auth=(plain.client_id, plain.client_secret),
        data={"grant_type": "client_credentials"},
    )
    assert refused.json()["error"] == "unauthorized_client"


def test_refresh_rotation_and_reuse_revokes_the_family(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    rp = register()
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    first = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI).json()
    auth = (rp.client_id, rp.client_secret)
    second = client.post(
        "/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    other = register(client_name="Otro")
    foreign = client.post(
        "/token",
        auth=(other.client_id, other.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
    )
    assert foreign.json()["error"] == "invalid_grant"
    wider = client.post(
        "/token",
        auth=auth,
        data={
            "grant_type": "refresh_token",
            "refresh_token": new["refresh_token"],
            "scope": "openid email",
        },
    )
    assert wider.json()["error"] == "invalid_scope"

    reuse = client.post(
        "/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert reuse.json()["error"] == "invalid_grant"
    after = client.post(
        "/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
    )
    assert after.json()["error"] == "invalid_grant"  # the whole family is revoked


def test_token_in_the_query_string_is_refused(client: TestClient) -> None:
    response = client.get("/userinfo?access_token=abc")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_introspection_and_revocation_only_for_the_owner(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    rp, other = register(), register(client_name="Otro")
    code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI)
    tokens = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI).json()
    foreign = client.post(
        "/introspect",
        auth=(other.client_id, other.client_secret),
        data={"token": tokens["access_token"]},
    )
    assert foreign.json() == {"active": False}
    client.post(
        "/revoke",
        auth=(other.client_id, other.client_secret),
        data={"token": tokens["refresh_token"]},
    )
    own = client.post(
        "/introspect",
        auth=(rp.client_id, rp.client_secret),
        data={"token": tokens["refresh_token"]},
    )
    assert own.json()["active"] is True
    assert (
        client.post(
            "/revoke", auth=(rp.client_id, rp.client_secret), data={"token": "unknown"}
        ).status_code
        == 200
    )
    client.post(
        "/revoke", auth=(rp.client_id, rp.client_secret), data={"token": tokens["access_token"]}
    )
    assert (
        client.get(
            "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 401
    )
    client.post(
        "/revoke", auth=(rp.client_id, rp.client_secret), data={"token": tokens["refresh_token"]}
    )
    gone = client.post(
        "/introspect",
        auth=(rp.client_id, rp.client_secret),
        data={"token": tokens["refresh_token"]},
    )
    assert gone.json() == {"active": False}


# --- private_key_jwt ----------------------------------------------------------------------------


@pytest.fixture
def jwt_client(register) -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update({"kid": "k1", "alg": "RS256"})
    rp = register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks={"keys": [public]},
        grant_types=["authorization_code", "client_credentials"],
    )
    return rp.client_id, key


def _assertion(client_id: str, key: Any, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes.pop("claims", {}))
    alg = changes.pop("alg", "RS256")
    return jwt.encode(
        claims, key, algorithm=alg, headers={"kid": "k1", **changes.pop("headers", {})}
    )


def _cc(client: TestClient, client_id: str, assertion: str) -> httpx.Response:
    return client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def test_private_key_jwt_accepts_a_good_assertion_once(client: TestClient, jwt_client) -> None:
    client_id, key = jwt_client
    assertion = _assertion(client_id, key)
    assert _cc(client, client_id, assertion).status_code == 200
    replay = _cc(client, client_id, assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def _public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda cid, key: _assertion(cid, key, claims={"aud": "https://elsewhere.example/token"}),
        lambda cid, key: _assertion(cid, key, claims={"exp": int(time.time()) - 120}),
        lambda cid, key: _assertion(
            cid, key, claims={"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3700}
        ),
        lambda cid, key: _assertion(cid, key, claims={"sub": "someone-else"}),
        lambda cid, key: jwt.encode(
            {"iss": cid, "sub": cid, "aud": TOKEN_URL, "exp": int(time.time()) + 60, "jti": "n"},
            None,
            algorithm="none",
        ),
        lambda cid, key: _hs256_with_public_key(cid, key),
        lambda cid, key: _assertion(
            cid, rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ),
        lambda cid, key: _assertion(cid, key, headers={"kid": "unknown"}),
    ],
    ids=[
        "wrong-aud",
        "expired",
        "iat-in-future",
        "iss-not-sub",
        "alg-none",
        "hs256-public-key",
        "other-key",
        "unknown-kid",
    ],
)
def test_private_key_jwt_refusals(client: TestClient, jwt_client, make: Callable[..., str]) -> None:
    client_id, key = jwt_client
    response = _cc(client, client_id, make(client_id, key))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def _hs256_with_public_key(client_id: str, key: Any) -> str:
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = b64(
        json.dumps(
            {
                "iss": client_id,
                "sub": client_id,
                "aud": TOKEN_URL,
                "exp": int(time.time()) + 60,
                "jti": "hs",
            }
        ).encode()
    )
    signature = hmac.new(_public_pem(key), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


# --- races, on both backends, over real HTTP ---


def _live_app(database_url: str, settings_factory: Callable[..., Settings]) -> tuple[FastAPI, int]:
    port = free_port()
    app = create_app(settings_factory(database_url, issuer=f"http://127.0.0.1:{port}"))
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    return app, port


def _register(app: FastAPI) -> tuple[str, str]:
    with app.state.provider.database.transaction() as session:
        row, secret = register_client(
            session,
            metadata=ClientMetadata(
                client_name="RP",
                redirect_uris=[RP_REDIRECT_URI],
                grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
            ),
            now=utc_now(),
        )
    assert secret is not None
    return row.client_id, secret


def _race(count: int, send: Callable[[], int]) -> list[int]:
    barrier = threading.Barrier(count)
    results: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        status = send()
        with lock:
            results.append(status)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_fifty_parallel_redemptions_of_one_code(
    database_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app, port = _live_app(database_url, settings_factory)
    client_id, secret = _register(app)
    with serve_app(app, port=port) as base, httpx.Client(base_url=base) as browser:
        code, verifier = obtain_code(browser, client_id, RP_REDIRECT_URI)
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": RP_REDIRECT_URI,
            "code_verifier": verifier,
        }
        statuses = _race(
            50,
            lambda: (
                httpx.post(
                    f"{base}/token", auth=(client_id, secret), data=data, timeout=60
                ).status_code
            ),
        )
    assert sorted(statuses).count(200) == 1
    assert statuses.count(400) == 49
    (grant_id,) = _grant_ids(app)
    assert not _grant_active(app, grant_id)
    app.state.provider.database.dispose()


def test_parallel_refreshes_of_one_token(
    database_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app, port = _live_app(database_url, settings_factory)
    client_id, secret = _register(app)
    with serve_app(app, port=port) as base, httpx.Client(base_url=base) as browser:
        code, verifier = obtain_code(browser, client_id, RP_REDIRECT_URI)
        tokens = browser.post(
            "/token",
            auth=(client_id, secret),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": RP_REDIRECT_URI,
                "code_verifier": verifier,
            },
        ).json()
        data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        statuses = _race(
            10,
            lambda: (
                httpx.post(
                    f"{base}/token", auth=(client_id, secret), data=data, timeout=60
                ).status_code
            ),
        )
    assert statuses.count(200) == 1
    assert statuses.count(400) == 9
    app.state.provider.database.dispose()


def test_a_jwks_uri_on_a_private_address_is_never_fetched(client: TestClient, register) -> None:
    rp = register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks_uri="https://169.254.169.254/latest/meta-data/jwks",
        grant_types=["authorization_code", "client_credentials"],
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = _cc(client, rp.client_id, _assertion(rp.client_id, key))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
