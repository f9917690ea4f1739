"""Token endpoint over HTTP: the code exchange for each client authentication method (RFC 6749
4.1.3, RFC 7636 4.6, OIDC Core 3.1.3), the tokens it mints (RFC 9068, OIDC Core 2, 3.1.3.6,
5.5, 8.1), refresh rotation (RFC 6749 6, RFC 9700 4.14.2, OIDC Core 12), client credentials
(RFC 6749 4.4) and every refusal with its exact OAuth error; a refused request changes nothing
in the database unless it is a replay, which revokes the grant.

Codes are made by inserting a grant and its code through ``idp.storage.grants`` (``make_code``),
so these tests do not depend on the authorization endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.context import utc_now
from idp.oidc.clients import SubjectType
from idp.oidc.tokens import token_hash
from idp.signing_keys import service
from idp.signing_keys.algorithms import SigningAlgorithm
from idp.storage import grants
from idp.storage.models import (
    AuthorizationCode,
    Citizen,
    CitizenStatus,
    ClientAuthMethod,
    Grant,
    KeyState,
    RefreshToken,
)
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient

ISSUER = "http://127.0.0.1:8000"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}

Register = Callable[..., RegisteredClient]


# --- helpers ----------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    verifier: str
    grant_id: str


def make_code(
    app: FastAPI,
    *,
    client_id: str,
    citizen_id: int,
    scope: str = "openid profile",
    redirect_uri: str = RP_REDIRECT_URI,
    nonce: str | None = "nonce-456",
    claims: dict[str, Any] | None = None,
    pkce: bool = True,
    now: datetime | None = None,
    code_ttl: timedelta = timedelta(seconds=60),
    grant_ttl: timedelta = timedelta(days=30),
) -> IssuedCode:
    """What the authorization endpoint stores after consent: a grant and its code."""
    now = now or app.state.provider.clock()
    verifier, challenge = pkce_pair()
    code = secrets.token_urlsafe(32)
    grant_id = secrets.token_urlsafe(32)
    with app.state.provider.database.transaction() as session:
        grants.add_grant(
            session,
            grant=Grant(
                id=grant_id,
                client_id=client_id,
                citizen_id=citizen_id,
                scope=scope,
                claims=claims,
                sid="sid-" + secrets.token_urlsafe(8),
                auth_time=now - timedelta(seconds=30),
                acr="urn:uy:loa:1",
                amr=["pwd"],
                created_at=now,
                expires_at=now + grant_ttl,
            ),
        )
        grants.add_authorization_code(
            session,
            code=AuthorizationCode(
                code_hash=token_hash(code),
                grant_id=grant_id,
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=challenge if pkce else "",
                nonce=nonce,
                created_at=now,
                expires_at=now + code_ttl,
            ),
        )
    return IssuedCode(code=code, verifier=verifier, grant_id=grant_id)


def credentials_of(rp: RegisteredClient) -> dict[str, Any]:
    """Request arguments that authenticate ``rp`` with the method it registered."""
    method = rp.row.token_endpoint_auth_method
    if method == ClientAuthMethod.CLIENT_SECRET_BASIC:
        return {"auth": (rp.client_id, rp.client_secret), "data": {}}
    if method == ClientAuthMethod.CLIENT_SECRET_POST:
        return {"data": {"client_id": rp.client_id, "client_secret": rp.client_secret}}
    return {"data": {"client_id": rp.client_id}}


def post_token(client: TestClient, rp: RegisteredClient, **data: str | None) -> httpx.Response:
    arguments = credentials_of(rp)
    arguments["data"] = {
        **arguments["data"],
        **{name: value for name, value in data.items() if value is not None},
    }
    return client.post("/token", **arguments)


def exchange(
    client: TestClient, rp: RegisteredClient, issued: IssuedCode, **changes: str | None
) -> httpx.Response:
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": RP_REDIRECT_URI,
        "code_verifier": issued.verifier,
    }
    data.update(changes)
    return post_token(client, rp, **data)


def refresh(
    client: TestClient, rp: RegisteredClient, token: str, **changes: str | None
) -> httpx.Response:
    return post_token(client, rp, grant_type="refresh_token", refresh_token=token, **changes)


def assert_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def verify_jwt(app: FastAPI, token: str, *, typ: str, audience: str) -> tuple[dict, dict]:
    """Verify with pyjwt against the published JWKS; returns (header, claims)."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == typ
    published = {key["kid"]: key for key in app.state.provider.keyring.jwks()["keys"]}
    assert header["kid"] in published
    jwk = published[header["kid"]]
    assert header["alg"] == jwk["alg"]
    key = jwt.PyJWK.from_dict(jwk, algorithm=jwk["alg"])
    claims = jwt.decode(
        token, key.key, algorithms=[jwk["alg"]], audience=audience, issuer=ISSUER, leeway=120
    )
    return header, claims


def at_hash(access_token: str, alg: str) -> str:
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@dataclass(frozen=True)
class Snapshot:
    codes: list[tuple[Any, ...]]
    grants: list[tuple[Any, ...]]
    refresh_tokens: list[tuple[Any, ...]]


def snapshot(app: FastAPI) -> Snapshot:
    """Everything the token endpoint may write."""
    with app.state.provider.database.transaction() as session:
        return Snapshot(
            codes=[
                tuple(row)
                for row in session.execute(
                    select(AuthorizationCode.code_hash, AuthorizationCode.consumed_at).order_by(
                        AuthorizationCode.code_hash
                    )
                )
            ],
            grants=[
                tuple(row)
                for row in session.execute(select(Grant.id, Grant.revoked_at).order_by(Grant.id))
            ],
            refresh_tokens=[
                tuple(row)
                for row in session.execute(
                    select(RefreshToken.token_hash, RefreshToken.rotated_at).order_by(
                        RefreshToken.token_hash
                    )
                )
            ],
        )


def grant_active(app: FastAPI, grant_id: str) -> bool:
    with app.state.provider.database.transaction() as session:
        return grants.grant_is_active(session, grant_id=grant_id, now=utc_now())


def citizen_subject(app: FastAPI, citizen_id: int) -> str:
    with app.state.provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        return citizen.subject


def move_clock(app: FastAPI, by: timedelta) -> None:
    later = app.state.provider.clock() + by
    app.state.provider.clock = lambda: later


# --- the code exchange ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        ClientAuthMethod.CLIENT_SECRET_BASIC,
        ClientAuthMethod.CLIENT_SECRET_POST,
        ClientAuthMethod.NONE,
    ],
)
def test_code_exchange_issues_verified_tokens(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int, method: str
) -> None:
    rp = register(token_endpoint_auth_method=method)
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)

    response = exchange(client, rp, issued)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    ttl = app.state.provider.settings.access_token_ttl_seconds
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ttl
    assert body["scope"] == "openid profile"
    subject = citizen_subject(app, citizen_id)

    header, access = verify_jwt(app, body["access_token"], typ="at+jwt", audience=ISSUER)
    assert header["alg"] == "ES256"
    assert access["sub"] == subject
    assert access["client_id"] == rp.client_id
    assert access["scope"] == "openid profile"
    assert access["grant_id"] == issued.grant_id
    assert access["acr"] == "urn:uy:loa:1"
    assert access["amr"] == ["pwd"]
    assert access["exp"] - access["iat"] == ttl

    header, id_claims = verify_jwt(app, body["id_token"], typ="JWT", audience=rp.client_id)
    assert header["alg"] == "RS256"
    assert id_claims["sub"] == subject
    assert id_claims["nonce"] == "nonce-456"
    assert id_claims["azp"] == rp.client_id
    assert id_claims["auth_time"] == access["auth_time"]
    assert id_claims["sid"].startswith("sid-")
    assert id_claims["at_hash"] == at_hash(body["access_token"], "RS256")
    assert "given_name" not in id_claims  # scope claims go to UserInfo (OIDC Core 5.4)

    with app.state.provider.database.transaction() as session:
        stored = session.scalars(select(RefreshToken)).all()
        code = session.get(AuthorizationCode, token_hash(issued.code))
        assert code is not None
        assert code.consumed_at is not None
    if method == ClientAuthMethod.NONE:  # public, no offline_access: no refresh token
        assert "refresh_token" not in body
        assert stored == []
    else:
        assert [row.token_hash for row in stored] == [token_hash(body["refresh_token"])]
        assert stored[0].scope == "openid profile"
        assert stored[0].client_id == rp.client_id


def test_a_public_client_with_offline_access_gets_a_refresh_token(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register(token_endpoint_auth_method=ClientAuthMethod.NONE)
    issued = make_code(
        app, client_id=rp.client_id, citizen_id=citizen_id, scope="openid offline_access"
    )
    body = exchange(client, rp, issued).json()
    assert body["scope"] == "openid offline_access"
    again = refresh(client, rp, body["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] != body["refresh_token"]


def test_no_refresh_token_for_a_client_not_registered_for_the_grant(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register(grant_types=["authorization_code"])
    issued = make_code(
        app, client_id=rp.client_id, citizen_id=citizen_id, scope="openid offline_access"
    )
    body = exchange(client, rp, issued).json()
    assert "access_token" in body
    assert "refresh_token" not in body
    assert snapshot(app).refresh_tokens == []


def test_without_openid_there_is_no_id_token(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id, scope="profile")
    body = exchange(client, rp, issued).json()
    assert "id_token" not in body
    assert body["scope"] == "profile"


def test_claims_requested_for_the_id_token_are_in_it(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    issued = make_code(
        app,
        client_id=rp.client_id,
        citizen_id=citizen_id,
        claims={"id_token": {"given_name": None, "document_number": {"essential": True}}},
    )
    body = exchange(client, rp, issued).json()
    _, claims = verify_jwt(app, body["id_token"], typ="JWT", audience=rp.client_id)
    with app.state.provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        expected = (citizen.given_name, citizen.document_number)
    assert (claims["given_name"], claims["document_number"]) == expected
    assert "family_name" not in claims  # in the profile scope, but not requested


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
def test_id_token_signed_with_the_registered_algorithm(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int, alg: str
) -> None:
    provider = app.state.provider
    if not provider.keyring.can_sign(alg):
        with provider.database.transaction() as session:
            service.create_key(
                session,
                store=service.key_store(provider.settings),
                algorithm=SigningAlgorithm(alg),
                state=KeyState.CURRENT,
                now=utc_now(),
            )
        provider.keyring.reload()
    rp = register(id_token_signed_response_alg=alg)
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    body = exchange(client, rp, issued).json()
    header, claims = verify_jwt(app, body["id_token"], typ="JWT", audience=rp.client_id)
    assert header["alg"] == alg
    assert claims["at_hash"] == at_hash(body["access_token"], alg)
    access_header, _ = verify_jwt(app, body["access_token"], typ="at+jwt", audience=ISSUER)
    assert access_header["alg"] == "ES256"


def test_pairwise_subjects_differ_by_sector_and_are_stable(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    def pairwise_client(host: str) -> RegisteredClient:
        return register(subject_type=SubjectType.PAIRWISE, redirect_uris=[f"https://{host}/cb"])

    def subjects(rp: RegisteredClient) -> tuple[str, str]:
        issued = make_code(
            app, client_id=rp.client_id, citizen_id=citizen_id, redirect_uri=rp.redirect_uri
        )
        body = exchange(client, rp, issued, redirect_uri=rp.redirect_uri).json()
        _, id_claims = verify_jwt(app, body["id_token"], typ="JWT", audience=rp.client_id)
        _, access = verify_jwt(app, body["access_token"], typ="at+jwt", audience=ISSUER)
        assert access["sub"] == id_claims["sub"]
        return id_claims["sub"], access["sub"]

    tax = pairwise_client("tributos.example.gub.uy")
    health = pairwise_client("salud.example.org.uy")
    first, _ = subjects(tax)
    second, _ = subjects(tax)
    other, _ = subjects(health)
    assert first == second
    assert first != other
    assert citizen_subject(app, citizen_id) not in {first, other}


# --- refusals of a code --------------------------------------------------------------------------


def test_a_reused_code_is_refused_and_revokes_the_grant(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    first = exchange(client, rp, issued)
    assert first.status_code == 200
    tokens = first.json()

    again = exchange(client, rp, issued)

    assert_error(again, "invalid_grant")
    assert not grant_active(app, issued.grant_id)
    assert_error(refresh(client, rp, tokens["refresh_token"]), "invalid_grant")
    userinfo = client.get(
        "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),  # wrong
        ({"code_verifier": None}, "invalid_grant"),  # missing
        ({"code_verifier": ""}, "invalid_grant"),  # empty = omitted (RFC 6749 3.1)
        ({"code_verifier": "x" * 42}, "invalid_grant"),  # too short (RFC 7636 4.1)
        ({"code_verifier": "é" * 43}, "invalid_grant"),  # not unreserved characters
        ({"redirect_uri": RP_REDIRECT_URI + "/other"}, "invalid_grant"),
        ({"redirect_uri": "https://RP.example.gub.uy/callback"}, "invalid_grant"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"code": None}, "invalid_request"),
        ({"code": "not-a-code"}, "invalid_grant"),
    ],
    ids=[
        "wrong-verifier",
        "missing-verifier",
        "empty-verifier",
        "short-verifier",
        "non-ascii-verifier",
        "other-redirect-uri",
        "case-changed-redirect-uri",
        "missing-redirect-uri",
        "missing-code",
        "unknown-code",
    ],
)
def test_bad_code_exchanges_change_nothing(
    app: FastAPI,
    client: TestClient,
    register: Register,
    citizen_id: int,
    changes: dict[str, str | None],
    error: str,
) -> None:
    rp = register()
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    before = snapshot(app)

    response = exchange(client, rp, issued, **changes)

    assert_error(response, error)
    assert issued.code not in response.text
    assert issued.verifier not in response.text
    assert snapshot(app) == before
    assert exchange(client, rp, issued).status_code == 200  # the code is still good


def test_an_unsolicited_code_verifier_is_refused(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    """RFC 9700 2.1.1: a code issued without a code_challenge is not redeemed with a verifier
    (PKCE downgrade); a public client can never redeem such a code."""
    rp = register()
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id, pkce=False)
    before = snapshot(app)
    assert_error(exchange(client, rp, issued), "invalid_grant")
    assert snapshot(app) == before

    public = register(token_endpoint_auth_method=ClientAuthMethod.NONE)
    no_pkce = make_code(app, client_id=public.client_id, citizen_id=citizen_id, pkce=False)
    assert_error(exchange(client, public, no_pkce, code_verifier=None), "invalid_grant")


def test_a_code_of_another_client_is_refused_and_left_unused(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp, other = register(), register(client_name="Otro portal")
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    before = snapshot(app)

    assert_error(exchange(client, other, issued), "invalid_grant")

    assert snapshot(app) == before
    assert exchange(client, rp, issued).status_code == 200


def test_an_expired_code_is_refused(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    before = snapshot(app)
    move_clock(app, timedelta(seconds=61))

    assert_error(exchange(client, rp, issued), "invalid_grant")

    assert snapshot(app) == before


def test_a_code_of_a_revoked_grant_or_a_disabled_account_is_refused(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    revoked = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    with app.state.provider.database.transaction() as session:
        grants.revoke_grant(session, grant_id=revoked.grant_id, now=utc_now())
    before = snapshot(app)
    assert_error(exchange(client, rp, revoked), "invalid_grant")
    assert snapshot(app) == before

    disabled = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    with app.state.provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        citizen.status = CitizenStatus.DISABLED
    before = snapshot(app)
    assert_error(exchange(client, rp, disabled), "invalid_grant")
    assert snapshot(app) == before


# --- refresh ---------------------------------------------------------------------------------


def first_tokens(
    app: FastAPI, client: TestClient, rp: RegisteredClient, citizen_id: int, **code: Any
) -> dict[str, Any]:
    response = exchange(
        client, rp, make_code(app, client_id=rp.client_id, citizen_id=citizen_id, **code)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_refresh_rotates_and_issues_a_new_id_token(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    first = first_tokens(app, client, rp, citizen_id)
    _, first_id = verify_jwt(app, first["id_token"], typ="JWT", audience=rp.client_id)
    move_clock(app, timedelta(seconds=60))

    response = refresh(client, rp, first["refresh_token"])

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == "openid profile"
    _, access = verify_jwt(app, body["access_token"], typ="at+jwt", audience=ISSUER)
    _, id_claims = verify_jwt(app, body["id_token"], typ="JWT", audience=rp.client_id)
    assert "nonce" not in id_claims  # OIDC Core 12.2
    assert id_claims["auth_time"] == first_id["auth_time"]
    assert id_claims["sub"] == first_id["sub"]
    assert id_claims["iat"] >= first_id["iat"] + 60
    assert id_claims["at_hash"] == at_hash(body["access_token"], "RS256")
    (grant_id,) = [row[0] for row in snapshot(app).grants]
    assert access["grant_id"] == grant_id
    with app.state.provider.database.transaction() as session:
        old = session.get(RefreshToken, token_hash(first["refresh_token"]))
        new = session.get(RefreshToken, token_hash(body["refresh_token"]))
        assert old is not None
        assert new is not None
        assert old.rotated_at is not None
        assert new.rotated_at is None
        assert new.grant_id == old.grant_id
        assert new.expires_at == old.expires_at


def test_a_narrowed_refresh_keeps_the_scope_of_the_refresh_token(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    first = first_tokens(app, client, rp, citizen_id, scope="openid profile email")
    narrowed = refresh(client, rp, first["refresh_token"], scope="profile")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "profile"
    assert "id_token" not in body  # openid was not asked for this time
    _, access = verify_jwt(app, body["access_token"], typ="at+jwt", audience=ISSUER)
    assert access["scope"] == "profile"
    # RFC 6749 6: the new refresh token has the scope of the one presented.
    full = refresh(client, rp, body["refresh_token"])
    assert full.json()["scope"] == "openid profile email"


def test_a_widening_refresh_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    first = first_tokens(app, client, rp, citizen_id)
    before = snapshot(app)
    assert_error(refresh(client, rp, first["refresh_token"], scope="openid email"), "invalid_scope")
    assert snapshot(app) == before
    assert refresh(client, rp, first["refresh_token"]).status_code == 200


def test_refresh_reuse_revokes_the_whole_family(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    first = first_tokens(app, client, rp, citizen_id)
    second = refresh(client, rp, first["refresh_token"]).json()
    (grant_id,) = [row[0] for row in snapshot(app).grants]

    assert_error(refresh(client, rp, first["refresh_token"]), "invalid_grant")

    assert not grant_active(app, grant_id)
    assert_error(refresh(client, rp, second["refresh_token"]), "invalid_grant")
    userinfo = client.get(
        "/userinfo", headers={"authorization": f"Bearer {second['access_token']}"}
    )
    assert userinfo.status_code == 401


def test_a_refresh_token_of_another_client_is_refused_and_untouched(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp, other = register(), register(client_name="Otro portal")
    first = first_tokens(app, client, rp, citizen_id)
    before = snapshot(app)

    assert_error(refresh(client, other, first["refresh_token"]), "invalid_grant")

    assert snapshot(app) == before
    assert refresh(client, rp, first["refresh_token"]).status_code == 200


def test_an_expired_or_unknown_refresh_token_is_refused(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    first = first_tokens(app, client, rp, citizen_id, grant_ttl=timedelta(hours=1))
    assert_error(refresh(client, rp, "not-a-refresh-token"), "invalid_grant")
    assert_error(post_token(client, rp, grant_type="refresh_token"), "invalid_request")
    before = snapshot(app)
    move_clock(app, timedelta(hours=1, seconds=1))
    assert_error(refresh(client, rp, first["refresh_token"]), "invalid_grant")
    assert snapshot(app) == before


# --- client credentials --------------------------------------------------------------------------


def test_client_credentials_issue_an_access_token_only(
    app: FastAPI, client: TestClient, register: Register
) -> None:
    rp = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["profile", "document"]
    )
    response = post_token(client, rp, grant_type="client_credentials", scope="document")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["scope"] == "document"
    header, claims = verify_jwt(app, body["access_token"], typ="at+jwt", audience=ISSUER)
    assert header["alg"] == "ES256"
    assert claims["sub"] == rp.client_id
    assert claims["client_id"] == rp.client_id
    assert "grant_id" not in claims
    assert "auth_time" not in claims
    without_scope = post_token(client, rp, grant_type="client_credentials")
    assert without_scope.status_code == 200
    assert "scope" not in without_scope.json()
    assert snapshot(app) == Snapshot(codes=[], grants=[], refresh_tokens=[])


@pytest.mark.parametrize(
    "scope", ["openid", "offline_access", "profile openid", "email", "profile unknown"]
)
def test_client_credentials_refuse_scopes_it_cannot_have(
    client: TestClient, register: Register, scope: str
) -> None:
    rp = register(grant_types=["client_credentials"], redirect_uris=[], scopes=["profile"])
    assert_error(
        post_token(client, rp, grant_type="client_credentials", scope=scope), "invalid_scope"
    )


def test_client_credentials_for_a_client_not_registered_for_it(
    client: TestClient, register: Register
) -> None:
    rp = register()  # authorization_code and refresh_token
    assert_error(post_token(client, rp, grant_type="client_credentials"), "unauthorized_client")


def test_a_grant_type_the_client_did_not_register_is_unauthorized(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register(grant_types=["client_credentials"], redirect_uris=[])
    issued = make_code(app, client_id=rp.client_id, citizen_id=citizen_id)
    before = snapshot(app)
    assert_error(exchange(client, rp, issued), "unauthorized_client")
    assert_error(refresh(client, rp, "anything"), "unauthorized_client")
    assert snapshot(app) == before


# --- the request itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [
        ("password", "unsupported_grant_type"),
        ("urn:ietf:params:oauth:grant-type:device_code", "unsupported_grant_type"),
        ("implicit", "unsupported_grant_type"),
        (None, "invalid_request"),
        ("", "invalid_request"),
    ],
)
def test_grant_type_is_required_and_supported(
    client: TestClient, register: Register, grant_type: str | None, error: str
) -> None:
    rp = register()
    assert_error(post_token(client, rp, grant_type=grant_type), error)


def test_get_is_not_allowed(client: TestClient) -> None:
    response = client.get("/token")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["cache-control"] == "no-store"


def raw_post(
    client: TestClient, rp: RegisteredClient, body: bytes, content_type: str
) -> httpx.Response:
    return client.post(
        "/token",
        content=body,
        headers={"content-type": content_type},
        auth=(rp.client_id, rp.client_secret),
    )


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "error", "status"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json", "invalid_request", 400),
        (
            b"grant_type=client_credentials",
            "multipart/form-data; boundary=x",
            "invalid_request",
            400,
        ),
        (b"grant_type=client_credentials", "text/plain", "invalid_request", 400),
        (
            b"grant_type=client_credentials&grant_type=client_credentials",
            FORM,
            "invalid_request",
            400,
        ),
        (b"grant_type=client_credentials&scope=a&scope=", FORM, "invalid_request", 400),
        (b"grant_type=client_credentials&scope=%FF", FORM, "invalid_request", 400),
        ("grant_type=client_credentials&scope=ñ".encode(), FORM, "invalid_request", 400),
        (
            b"grant_type=client_credentials" + b"".join(b"&p%d=1" % i for i in range(40)),
            FORM,
            "invalid_request",
            400,
        ),
        (b"grant_type=client_credentials&scope=" + b"a" * 70_000, FORM, "request_too_large", 413),
        (b"grant_type=%00", FORM, "unsupported_grant_type", 400),
        (
            b"&&&=&grant_type=client_credentials&scope=" + b"%20" * 500,
            FORM,
            "unauthorized_client",
            400,
        ),
    ],
    ids=[
        "json",
        "multipart",
        "text",
        "repeated-grant-type",
        "repeated-empty",
        "not-utf8",
        "not-ascii",
        "too-many-parameters",
        "too-large",
        "nul-grant-type",
        "odd-but-valid",
    ],
)
def test_malformed_bodies_are_refused_cleanly(
    client: TestClient,
    register: Register,
    body: bytes,
    content_type: str,
    error: str,
    status: int,
) -> None:
    rp = register()
    assert_error(raw_post(client, rp, body, content_type), error, status)


def test_a_streamed_body_beyond_the_limit_is_refused(
    client: TestClient, register: Register
) -> None:
    rp = register()

    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&scope="
        for _ in range(5):
            yield b"a" * 16_384

    response = client.post(
        "/token",
        content=chunks(),
        headers={"content-type": FORM},
        auth=(rp.client_id, rp.client_secret),
    )
    assert_error(response, "request_too_large", 413)


def test_form_content_type_with_charset_is_accepted(client: TestClient, register: Register) -> None:
    rp = register(grant_types=["client_credentials"], redirect_uris=[])
    response = raw_post(client, rp, b"grant_type=client_credentials", FORM + "; charset=UTF-8")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("secret", ["wrong", None])
def test_client_authentication_failures(
    client: TestClient, register: Register, secret: str | None
) -> None:
    rp = register(grant_types=["authorization_code", "client_credentials"])
    response = client.post(
        "/token",
        auth=(rp.client_id, secret) if secret else None,
        data={"grant_type": "client_credentials"},
    )
    assert_error(response, "invalid_client", 401)
    assert rp.client_secret not in response.text
    if secret:
        assert response.headers["www-authenticate"].startswith("Basic")


def test_a_method_other_than_the_registered_one_is_refused(
    client: TestClient, register: Register
) -> None:
    rp = register(grant_types=["client_credentials"], redirect_uris=[])  # client_secret_basic
    as_post = client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert_error(as_post, "invalid_client", 401)
    as_public = client.post(
        "/token", data={"grant_type": "client_credentials", "client_id": rp.client_id}
    )
    assert_error(as_public, "invalid_client", 401)
    both = client.post(
        "/token",
        auth=(rp.client_id, rp.client_secret),
        data={"grant_type": "client_credentials", "client_secret": rp.client_secret},
    )
    assert_error(both, "invalid_request")


def test_a_private_key_jwt_assertion_for_an_unknown_client_is_refused(
    client: TestClient,
) -> None:
    response = client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": "e30.e30.c2ln",
        },
    )
    assert_error(response, "invalid_client", 401)
