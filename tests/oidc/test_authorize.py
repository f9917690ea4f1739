"""Authorization endpoint over HTTP: where errors go (page or redirect), exact redirect URI
matching, PKCE, prompt, max_age, id_token_hint, both response modes (OIDC Core 3.1.2,
RFC 6749 4.1, RFC 7636, RFC 9207, RFC 9700, OAuth 2.0 Form Post Response Mode)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from idp.oidc import jose
from idp.oidc.clients import ApplicationType, GrantType
from idp.oidc.tokens import id_token_claims, token_hash
from idp.storage.models import (
    AuthorizationCode,
    AuthorizationRequest,
    BrowserSession,
    Citizen,
    Consent,
    Grant,
)
from tests.helpers import csrf_token_of, log_in
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient
from tests.oidc.flow import authorize_url, obtain_code, pkce_pair, query_of
from tests.support.browser_flow import forms_of

ISSUER = "http://127.0.0.1:8000"
HTML = {"accept": "text/html"}
STORED = (AuthorizationRequest, Grant, AuthorizationCode, Consent, BrowserSession)
Register = Callable[..., RegisteredClient]


# --- helpers (imported by test_consent.py too) -------------------------------------------------


def snapshot(app: FastAPI) -> dict[str, int]:
    """Row counts of every table the authorization flow writes."""
    with app.state.provider.database.transaction() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in STORED
        }


def count(app: FastAPI, model: type) -> int:
    return snapshot(app)[model.__tablename__]  # type: ignore[attr-defined]


def start(http: TestClient, client_id: str, redirect_uri: str = RP_REDIRECT_URI, **extra: Any):
    """GET /authorize with the usual parameters (state-123, nonce-456, a fresh challenge)."""
    _, challenge = pkce_pair()
    return http.get(
        authorize_url(client_id, redirect_uri, challenge, **extra), follow_redirects=False
    )


def log_in_for(http: TestClient, login_location: str) -> Response:
    """Fill the login form the authorize endpoint sent us to (it carries request_id)."""
    page = http.get(login_location)
    request_id = query_of(login_location)["request_id"]
    assert f'name="request_id" value="{request_id}"' in page.text
    response = http.post(
        "/login",
        data={
            "csrf_token": csrf_token_of(page),
            "username": "1.234.567-2",
            "password": "correct horse battery",
            "request_id": request_id,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/authorize/continue?request_id={request_id}"
    return response


def answer_consent(http: TestClient, consent_location: str, decision: str = "allow") -> Response:
    page = http.get(consent_location)
    assert page.status_code == 200
    return http.post(
        "/consent",
        data={
            "csrf_token": csrf_token_of(page),
            "request_id": query_of(consent_location)["request_id"],
            "decision": decision,
        },
        follow_redirects=False,
    )


def grants(app: FastAPI) -> list[Grant]:
    with app.state.provider.database.transaction() as session:
        rows = list(session.scalars(select(Grant).order_by(Grant.created_at)))
        session.expunge_all()
        return rows


def advance_clock(app: FastAPI, delta: timedelta) -> datetime:
    provider = app.state.provider
    later = provider.clock() + delta
    provider.clock = lambda: later
    return later


def signed_id_token(app: FastAPI, *, subject: str, client_id: str, age: timedelta) -> str:
    """One of our own ID tokens, issued ``age`` ago (10 minutes of validity)."""
    now = app.state.provider.clock() - age
    claims = id_token_claims(
        issuer=ISSUER,
        subject=subject,
        client_id=client_id,
        now=now,
        ttl=timedelta(minutes=10),
        auth_time=now,
    )
    return jose.sign(app.state.provider.keyring, claims, alg="RS256", typ="JWT")


def citizen_subject(app: FastAPI, citizen_id: int) -> str:
    with app.state.provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        return citizen.subject


def assert_error_page(response: Response, error: str = "invalid_request") -> None:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert f"<code>{error}</code>" in response.text


def assert_redirected_error(response: Response, error: str, redirect_uri: str = RP_REDIRECT_URI):
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?")
    params = query_of(location)
    assert params["error"] == error
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert params["iss"] == ISSUER
    return params


# --- errors shown as a page: the client or its redirect URI is not trusted ----------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param(RP_REDIRECT_URI + "/", id="trailing-slash"),
        pytest.param(RP_REDIRECT_URI.upper(), id="upper-case"),
        pytest.param(RP_REDIRECT_URI.replace("/callback", "/Callback"), id="path-case"),
        pytest.param(RP_REDIRECT_URI + "?extra=1", id="added-query"),
        pytest.param(RP_REDIRECT_URI.replace("uy/", "uy:8443/"), id="other-port"),
        pytest.param(RP_REDIRECT_URI.replace("uy/", "uy:443/"), id="explicit-default-port"),
        pytest.param(RP_REDIRECT_URI.replace("https://", "https://evil@"), id="userinfo"),
        pytest.param(RP_REDIRECT_URI.replace("/callback", "/%2e%2e/callback"), id="encoded-dots"),
        pytest.param(RP_REDIRECT_URI.replace("/callback", "/x/../callback"), id="dot-segments"),
        pytest.param(RP_REDIRECT_URI + "#fragment", id="fragment"),
        pytest.param(RP_REDIRECT_URI.replace("https:", "http:"), id="http"),
        pytest.param("https://attacker.example/callback", id="other-host"),
    ],
)
def test_a_redirect_uri_that_is_not_exactly_registered_gets_a_page(
    app: FastAPI, client: TestClient, register: Register, redirect_uri: str
) -> None:
    registered = register()
    before = snapshot(app)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, redirect_uri, challenge, response_type="token"),
        headers=HTML,
        follow_redirects=False,
    )
    assert_error_page(response)
    assert 'href="https://attacker' not in response.text
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "case", ["unknown-client", "missing-client-id", "nul-client-id", "missing-redirect-uri"]
)
def test_unknown_client_or_missing_redirect_uri_gets_a_page_never_a_redirect(
    app: FastAPI, client: TestClient, register: Register, case: str
) -> None:
    registered = register()
    client_id = {
        "unknown-client": "nobody",
        "missing-client-id": None,
        "nul-client-id": registered.client_id + "\x00",
    }.get(case, registered.client_id)
    redirect_uri = None if case == "missing-redirect-uri" else RP_REDIRECT_URI
    _, challenge = pkce_pair()
    url = authorize_url(client_id, redirect_uri, challenge)  # type: ignore[arg-type]
    before = snapshot(app)

    page = client.get(url, headers=HTML, follow_redirects=False)
    api = client.get(url, follow_redirects=False)

    assert_error_page(page)
    assert api.status_code == 400
    assert "location" not in api.headers
    assert api.json()["error"] == "invalid_request"
    assert snapshot(app) == before


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_a_repeated_client_id_or_redirect_uri_gets_a_page(
    client: TestClient, register: Register, name: str
) -> None:
    registered = register()
    url = authorize_url(registered.client_id, RP_REDIRECT_URI, pkce_pair()[1])
    value = registered.client_id if name == "client_id" else RP_REDIRECT_URI
    response = client.get(f"{url}&{name}={value}", headers=HTML, follow_redirects=False)
    assert_error_page(response)


# --- errors redirected to the client, with state and iss (RFC 9207) ----------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": "CODE"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "s256"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"code_challenge": "a" * 129}, "invalid_request"),
        ({"code_challenge": "+" * 43}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request_object"),
        ({"request_uri": "https://rp.example/req"}, "request_uri_not_supported"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "none consent"}, "invalid_request"),
        ({"prompt": "always"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "1.5"}, "invalid_request"),
        ({"max_age": "²"}, "invalid_request"),
        ({"max_age": "٣"}, "invalid_request"),
        ({"max_age": "12345678901"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"claims": '{"userinfo": {"email": 5}}'}, "invalid_request"),
        ({"claims": "[]"}, "invalid_request"),
        ({"nonce": "n\x00nce"}, "invalid_request"),
        ({"login_hint": "a\nb"}, "invalid_request"),
        ({"nonce": "n" * 4097}, "invalid_request"),
        ({"id_token_hint": "not.a.token"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_errors_after_the_redirect_uri_is_validated_go_back_with_state_and_iss(
    app: FastAPI, client: TestClient, register: Register, overrides: dict, error: str
) -> None:
    registered = register()
    before = snapshot(app)
    response = start(client, registered.client_id, **overrides)
    assert_redirected_error(response, error)
    assert snapshot(app) == before
    assert "set-cookie" not in response.headers


def test_a_repeated_parameter_is_invalid_request(
    app: FastAPI, client: TestClient, register: Register
) -> None:
    registered = register()
    _, challenge = pkce_pair()
    url = authorize_url(registered.client_id, RP_REDIRECT_URI, challenge)
    before = snapshot(app)
    response = client.get(url + "&scope=openid", follow_redirects=False)
    assert assert_redirected_error(response, "invalid_request")["error_description"] == (
        "Repeated parameter: scope."
    )
    assert snapshot(app) == before


def test_a_scope_the_client_did_not_register_is_invalid_scope(
    app: FastAPI, client: TestClient, register: Register
) -> None:
    registered = register(scopes=["openid", "profile"])
    response = start(client, registered.client_id, scope="openid email")
    params = assert_redirected_error(response, "invalid_scope")
    assert "email" not in params["error_description"]  # the description never echoes input


def test_a_client_without_the_code_grant_is_unauthorized_client(
    app: FastAPI, client: TestClient, register: Register
) -> None:
    registered = register(grant_types=[GrantType.CLIENT_CREDENTIALS])
    before = snapshot(app)
    assert_redirected_error(start(client, registered.client_id), "unauthorized_client")
    assert snapshot(app) == before


def test_errors_in_form_post_mode_are_posted_back_by_a_form(
    app: FastAPI, client: TestClient, register: Register
) -> None:
    registered = register()
    response = start(client, registered.client_id, response_type="token", response_mode="form_post")
    assert response.status_code == 200
    form = forms_of(response.text)[0]
    assert (form.action, form.method) == (RP_REDIRECT_URI, "post")
    assert form.fields["error"] == "unsupported_response_type"
    assert form.fields["state"] == "state-123"
    assert form.fields["iss"] == ISSUER
    assert "code" not in form.fields
    assert "form-action https://rp.example.gub.uy;" in response.headers["content-security-policy"]


def test_parameters_with_empty_values_count_as_omitted(
    app: FastAPI, client: TestClient, register: Register
) -> None:
    """RFC 6749 3.1: an empty ``request`` or ``max_age`` is no request object, no max_age."""
    registered = register()
    response = start(client, registered.client_id, request="", request_uri="", max_age="")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?request_id=")


def test_unknown_parameters_are_ignored_even_long_or_repeated(
    client: TestClient, register: Register
) -> None:
    registered = register()
    _, challenge = pkce_pair()
    url = authorize_url(registered.client_id, RP_REDIRECT_URI, challenge, foo="x" * 10000)
    response = client.get(url + "&foo=again&display=page", follow_redirects=False)
    assert response.headers["location"].startswith("/login?request_id=")


# --- oversized state: a page, never a 500 -----------------------------------------------------


def _form(client_id: str, state: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "redirect_uri": RP_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
        "state": state,
    }


def test_a_64_kb_state_gets_a_page_and_stores_nothing(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    """A 64 KB state cannot travel in a URL through httpx (nor most servers), so it comes the
    other way OIDC Core 3.1.2.1 allows, a POSTed form; a 60 KB one also comes by GET."""
    registered = register()
    log_in(client)
    before = snapshot(app)
    posted = client.post(
        "/authorize",
        data=_form(registered.client_id, "s" * 65536),
        headers=HTML,
        follow_redirects=False,
    )
    posted_api = client.post(
        "/authorize", data=_form(registered.client_id, "s" * 65536), follow_redirects=False
    )
    fetched = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, pkce_pair()[1], state="s" * 61440),
        headers=HTML,
        follow_redirects=False,
    )
    assert_error_page(posted)
    assert_error_page(fetched)
    assert posted_api.status_code == 400
    assert posted_api.json()["error"] == "invalid_request"
    assert "s" * 100 not in posted.text + posted_api.text
    assert snapshot(app) == before


def test_a_state_of_2048_characters_is_accepted(client: TestClient, register: Register) -> None:
    registered = register()
    response = start(client, registered.client_id, state="s" * 2048)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?request_id=")
    refused = start(client, registered.client_id, state="s" * 2049)
    assert refused.status_code == 400


# --- the code flow ----------------------------------------------------------------------------


def test_code_flow_in_query_mode_step_by_step(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    verifier, challenge = pkce_pair()
    claims = '{"id_token": {"acr": {"essential": true}}, "userinfo": {"email": null}}'
    first = client.get(
        authorize_url(
            registered.client_id,
            RP_REDIRECT_URI,
            challenge,
            claims=claims,
            ui_locales="en",
            login_hint="1.234.567-2",
        ),
        follow_redirects=False,
    )
    assert first.status_code == 303
    login_location = first.headers["location"]
    assert login_location.startswith("/login?request_id=")
    assert query_of(login_location)["ui_locales"] == "en"
    assert query_of(login_location)["login_hint"] == "1.234.567-2"
    assert count(app, AuthorizationRequest) == 1
    assert count(app, Grant) == 0

    logged_in = log_in_for(client, login_location)
    resumed = client.get(logged_in.headers["location"], follow_redirects=False)
    assert resumed.status_code == 303
    consent_location = resumed.headers["location"]
    assert consent_location.startswith("/consent?request_id=")
    assert count(app, Grant) == 0

    answered = answer_consent(client, consent_location)
    assert answered.status_code == 303
    location = answered.headers["location"]
    assert location.startswith(RP_REDIRECT_URI + "?code=")
    params = query_of(location)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == "state-123"
    assert params["iss"] == ISSUER

    now = app.state.provider.clock()
    with app.state.provider.database.transaction() as session:
        code = session.get(AuthorizationCode, token_hash(params["code"]))
        assert code is not None
        assert code.client_id == registered.client_id
        assert code.redirect_uri == RP_REDIRECT_URI
        assert code.code_challenge == challenge
        assert code.nonce == "nonce-456"
        assert code.consumed_at is None
        assert timedelta(0) < code.expires_at - code.created_at <= timedelta(seconds=60)
        grant = session.get(Grant, code.grant_id)
        assert grant is not None
        assert grant.client_id == registered.client_id
        assert grant.citizen_id == citizen_id
        assert grant.scope == "openid profile"
        assert grant.claims == {
            "id_token": {"acr": {"essential": True}},
            "userinfo": {"email": None},
        }
        # A self-registered account (verification 0) with a password login: level 0.
        assert grant.amr == ["pwd", "urn:iduruguay:am:password"]
        assert grant.acr == "urn:iduruguay:nid:0"
        assert grant.revoked_at is None
        assert abs(grant.auth_time - now) < timedelta(seconds=30)
        assert grant.expires_at - grant.created_at == timedelta(days=30)
        browser_session = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id == citizen_id)
        ).one()
        assert grant.sid is not None
        assert grant.sid == browser_session.sid
    assert count(app, AuthorizationRequest) == 0
    assert verifier


def test_code_flow_in_form_post_mode_answers_with_a_script_free_form(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)  # consent is now remembered
    response = start(client, registered.client_id, response_mode="form_post", ui_locales="en")
    assert response.status_code == 200
    assert "<script" not in response.text.lower()
    form = forms_of(response.text)[0]
    assert (form.action, form.method) == (RP_REDIRECT_URI, "post")
    assert set(form.fields) == {"code", "state", "iss"}
    assert form.fields["state"] == "state-123"
    assert form.fields["iss"] == ISSUER
    assert "csrf_token" not in response.text
    button = re.search(r"<button type=\"submit\">([^<]+)</button>", response.text)
    assert button is not None
    assert unescape(button.group(1)) == "Continue to “Portal de trámites”"
    policy = response.headers["content-security-policy"]
    assert "form-action https://rp.example.gub.uy;" in policy
    assert "script-src 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
    with app.state.provider.database.transaction() as session:
        assert session.get(AuthorizationCode, token_hash(form.fields["code"])) is not None


def test_form_post_to_a_native_app_scheme_allows_that_scheme(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    native = register(
        redirect_uris=["uy.gub.example.app:/callback"],
        application_type=ApplicationType.NATIVE,
        token_endpoint_auth_method="none",
    )
    obtain_code(client, native.client_id, "uy.gub.example.app:/callback")
    response = start(
        client, native.client_id, "uy.gub.example.app:/callback", response_mode="form_post"
    )
    assert "form-action uy.gub.example.app:;" in response.headers["content-security-policy"]


def test_a_post_to_the_authorization_endpoint_works_like_a_get(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    form = _form(registered.client_id, "state-123")
    form["scope"] = "openid profile"
    response = client.post("/authorize", data=form, follow_redirects=False)
    assert set(query_of(response.headers["location"])) == {"code", "state", "iss"}


def test_the_redirect_uri_keeps_its_own_query(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register(redirect_uris=["https://rp.example.gub.uy/cb?tenant=7"])
    obtain_code(client, registered.client_id, "https://rp.example.gub.uy/cb?tenant=7")
    response = start(client, registered.client_id, "https://rp.example.gub.uy/cb?tenant=7")
    location = response.headers["location"]
    assert location.startswith("https://rp.example.gub.uy/cb?tenant=7&code=")
    assert set(query_of(location)) == {"tenant", "code", "state", "iss"}


def test_native_clients_may_use_any_loopback_port(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    native = register(
        redirect_uris=["http://127.0.0.1/cb"], application_type=ApplicationType.NATIVE
    )
    code, _ = obtain_code(client, native.client_id, "http://127.0.0.1:53123/cb")
    with app.state.provider.database.transaction() as session:
        row = session.get(AuthorizationCode, token_hash(code))
        assert row is not None
        assert row.redirect_uri == "http://127.0.0.1:53123/cb"
    web = register(redirect_uris=["http://127.0.0.1/cb"], application_type=ApplicationType.WEB)
    before = snapshot(app)
    refused = client.get(
        authorize_url(web.client_id, "http://127.0.0.1:53123/cb", pkce_pair()[1]),
        headers=HTML,
        follow_redirects=False,
    )
    assert_error_page(refused)
    assert snapshot(app) == before


# --- prompt and max_age -----------------------------------------------------------------------


def test_prompt_none_without_a_session_is_login_required(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    before = snapshot(app)
    assert_redirected_error(start(client, registered.client_id, prompt="none"), "login_required")
    assert snapshot(app) == before


def test_prompt_none_with_a_session_but_no_consent_is_consent_required(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    log_in(client)
    before = snapshot(app)
    response = start(client, registered.client_id, prompt="none")
    assert_redirected_error(response, "consent_required")
    assert snapshot(app) == before


def test_prompt_none_with_session_and_consent_issues_a_code_without_pages(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    response = start(client, registered.client_id, prompt="none")
    assert set(query_of(response.headers["location"])) == {"code", "state", "iss"}
    assert count(app, Grant) == 2


def test_prompt_none_with_a_stale_login_is_login_required(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    advance_clock(app, timedelta(minutes=5))
    response = start(client, registered.client_id, prompt="none", max_age="60")
    assert_redirected_error(response, "login_required")


def test_max_age_zero_forces_a_new_login_and_moves_auth_time(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    later = advance_clock(app, timedelta(minutes=5))
    response = start(client, registered.client_id, max_age="0")
    assert response.headers["location"].startswith("/login?request_id=")
    # Going straight on, without the new login, only leads back to the login form.
    request_id = query_of(response.headers["location"])["request_id"]
    skipped = client.get(f"/authorize/continue?request_id={request_id}", follow_redirects=False)
    assert skipped.headers["location"].startswith(f"/login?request_id={request_id}")
    assert count(app, Grant) == 1

    resumed = client.get(
        log_in_for(client, response.headers["location"]).headers["location"],
        follow_redirects=False,
    )
    assert set(query_of(resumed.headers["location"])) == {"code", "state", "iss"}
    first, second = grants(app)
    assert second.auth_time >= later > first.auth_time


def test_max_age_is_honoured_only_when_the_login_is_older(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    advance_clock(app, timedelta(minutes=5))
    recent = start(client, registered.client_id, max_age="3600")
    assert recent.headers["location"].startswith(RP_REDIRECT_URI + "?code=")
    stale = start(client, registered.client_id, max_age="299")
    assert stale.headers["location"].startswith("/login?request_id=")


@pytest.mark.parametrize("prompt", ["login", "select_account"])
def test_prompt_login_forces_the_login_form(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int, prompt: str
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    later = advance_clock(app, timedelta(minutes=1))
    response = start(client, registered.client_id, prompt=prompt)
    location = response.headers["location"]
    assert location.startswith("/login?request_id=")
    assert 'name="password"' in client.get(location).text
    resumed = client.get(log_in_for(client, location).headers["location"], follow_redirects=False)
    assert resumed.headers["location"].startswith(RP_REDIRECT_URI + "?code=")
    assert grants(app)[-1].auth_time >= later


# --- id_token_hint ----------------------------------------------------------------------------


def test_a_hint_naming_the_signed_in_citizen_allows_prompt_none_even_if_expired(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    hint = signed_id_token(
        app,
        subject=citizen_subject(app, citizen_id),
        client_id=registered.client_id,
        age=timedelta(hours=2),
    )
    response = start(client, registered.client_id, prompt="none", id_token_hint=hint)
    assert set(query_of(response.headers["location"])) == {"code", "state", "iss"}


def test_a_hint_naming_someone_else_requires_a_new_login(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    hint = signed_id_token(
        app, subject="someone-else", client_id=registered.client_id, age=timedelta(0)
    )
    before = snapshot(app)
    silent = start(client, registered.client_id, prompt="none", id_token_hint=hint)
    assert_redirected_error(silent, "login_required")
    assert snapshot(app) == before
    interactive = start(client, registered.client_id, id_token_hint=hint)
    assert interactive.headers["location"].startswith("/login?request_id=")


def test_a_hint_issued_to_another_client_or_signed_by_another_key_is_invalid_request(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    other = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    subject = citizen_subject(app, citizen_id)
    for_other = signed_id_token(app, subject=subject, client_id=other.client_id, age=timedelta(0))
    genuine = signed_id_token(
        app, subject=subject, client_id=registered.client_id, age=timedelta(0)
    )
    forged = jwt.encode(
        jwt.decode(genuine, options={"verify_signature": False}),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": jwt.get_unverified_header(genuine)["kid"], "typ": "JWT"},
    )
    before = snapshot(app)
    for hint in (for_other, forged, genuine + "x"):
        response = start(client, registered.client_id, prompt="none", id_token_hint=hint)
        assert_redirected_error(response, "invalid_request")
    assert snapshot(app) == before
