"""Authorization endpoint: exact redirect URI matching, error routing, PKCE, prompt, max_age,
consent (OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636, RFC 9207, RFC 9700)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.oidc.clients import ApplicationType
from idp.storage.models import AuthorizationCode, Consent, Grant
from tests.helpers import csrf_token_of, log_in
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import authorize_url, obtain_code, pkce_pair, query_of

ISSUER = "http://127.0.0.1:8000"


def count(app: FastAPI, model: type) -> int:
    with app.state.provider.database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        RP_REDIRECT_URI + "/",
        RP_REDIRECT_URI.upper(),
        RP_REDIRECT_URI.replace("/callback", "/Callback"),
        RP_REDIRECT_URI + "?extra=1",
        RP_REDIRECT_URI.replace("uy/", "uy:8443/"),
        RP_REDIRECT_URI.replace("https://", "https://evil@"),
        RP_REDIRECT_URI.replace("/callback", "/%2e%2e/callback"),
        RP_REDIRECT_URI + "#fragment",
        "https://attacker.example/callback",
    ],
)
def test_a_redirect_uri_that_is_not_exactly_registered_gets_a_page(
    client: TestClient, register, redirect_uri: str
) -> None:
    registered = register()
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, redirect_uri, challenge),
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "<code>invalid_request</code>" in response.text


def test_unknown_client_and_missing_redirect_uri_get_a_page(client: TestClient, register) -> None:
    registered = register()
    _, challenge = pkce_pair()
    unknown = client.get(
        authorize_url("nobody", RP_REDIRECT_URI, challenge), follow_redirects=False
    )
    missing = client.get(
        authorize_url(registered.client_id, None, challenge), follow_redirects=False
    )
    for response in (unknown, missing):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example/req"}, "request_uri_not_supported"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_errors_after_the_redirect_uri_is_validated_go_back_with_state_and_iss(
    app: FastAPI, client: TestClient, register, overrides: dict, error: str
) -> None:
    registered = register()
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge, **overrides),
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(RP_REDIRECT_URI + "?")
    params = query_of(location)
    assert params["error"] == error
    assert params["state"] == "state-123"
    assert params["iss"] == ISSUER
    assert count(app, Grant) == 0


def test_a_64_kb_state_is_refused_without_a_server_error(client: TestClient, register) -> None:
    registered = register()
    _, challenge = pkce_pair()
    # httpx refuses such a URL, so send it the other allowed way: a POSTed form.
    response = client.post(
        "/authorize",
        data={
            "client_id": registered.client_id,
            "redirect_uri": RP_REDIRECT_URI,
            "response_type": "code",
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s" * 65536,
        },
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_code_flow_query_mode_issues_a_code_with_state_and_iss(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    code, _ = obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    assert len(code) >= 40
    assert count(app, AuthorizationCode) == 1
    assert count(app, Consent) == 1


def test_consent_is_remembered_then_asked_again_when_withdrawn(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    _, challenge = pkce_pair()
    again = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge), follow_redirects=False
    )
    assert again.headers["location"].startswith(RP_REDIRECT_URI)  # no consent page
    with app.state.provider.database.transaction() as session:
        consent = session.scalars(select(Consent)).one()
        consent.withdrawn_at = app.state.provider.clock()
    asked = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge), follow_redirects=False
    )
    assert asked.headers["location"].startswith("/consent?")


def test_prompt_none_with_a_session_but_no_consent_is_consent_required(
    client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    log_in(client)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge, prompt="none"),
        follow_redirects=False,
    )
    assert query_of(response.headers["location"])["error"] == "consent_required"


def test_consent_denied_is_access_denied(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    log_in(client)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge), follow_redirects=False
    )
    page = client.get(response.headers["location"])
    request_id = query_of(response.headers["location"])["request_id"]
    denied = client.post(
        "/consent",
        data={"csrf_token": csrf_token_of(page), "request_id": request_id, "decision": "deny"},
        follow_redirects=False,
    )
    params = query_of(denied.headers["location"])
    assert params["error"] == "access_denied"
    assert params["iss"] == ISSUER
    assert count(app, Grant) == 0


def test_consent_without_csrf_is_refused_and_creates_nothing(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    log_in(client)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge), follow_redirects=False
    )
    request_id = query_of(response.headers["location"])["request_id"]
    refused = client.post(
        "/consent", data={"request_id": request_id, "decision": "allow"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert count(app, Grant) == 0
    assert count(app, Consent) == 0


def test_a_pending_request_from_another_browser_is_refused(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge), follow_redirects=False
    )
    request_id = query_of(response.headers["location"])["request_id"]
    with TestClient(app, base_url=ISSUER) as other:
        log_in(other)
        stolen = other.get(f"/authorize/continue?request_id={request_id}", follow_redirects=False)
    assert stolen.status_code == 400


def test_max_age_zero_forces_a_new_login_and_moves_auth_time(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    provider = app.state.provider
    later = provider.clock() + timedelta(minutes=5)
    provider.clock = lambda: later
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge, max_age="0"),
        follow_redirects=False,
    )
    assert response.headers["location"].startswith("/login?request_id=")
    obtain_code(client, registered.client_id, RP_REDIRECT_URI, max_age="0")
    with provider.database.transaction() as session:
        times = sorted(grant.auth_time for grant in session.scalars(select(Grant)))
    assert times[-1] >= later > times[0]


def test_prompt_login_forces_the_login_form(client: TestClient, register, citizen_id: int) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(registered.client_id, RP_REDIRECT_URI, challenge, prompt="login"),
        follow_redirects=False,
    )
    assert response.headers["location"].startswith("/login?request_id=")
    assert 'name="password"' in client.get(response.headers["location"]).text


def test_form_post_answers_with_a_form_to_the_client(
    client: TestClient, register, citizen_id: int
) -> None:
    registered = register()
    code, _ = obtain_code(client, registered.client_id, RP_REDIRECT_URI, response_mode="form_post")
    assert code


def test_native_clients_may_use_any_loopback_port(
    client: TestClient, register, citizen_id: int
) -> None:
    native = register(
        redirect_uris=["http://127.0.0.1/cb"], application_type=ApplicationType.NATIVE
    )
    code, _ = obtain_code(client, native.client_id, "http://127.0.0.1:53123/cb")
    assert code
    web = register(redirect_uris=["http://127.0.0.1/cb"], application_type=ApplicationType.WEB)
    _, challenge = pkce_pair()
    refused = client.get(
        authorize_url(web.client_id, "http://127.0.0.1:53123/cb", challenge), follow_redirects=False
    )
    assert refused.status_code == 400
