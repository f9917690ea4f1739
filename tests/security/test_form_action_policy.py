"""Pages whose form ends, through redirects, at a client allow that client's origin in the
CSP ``form-action`` (browsers check it on every redirect after the submission); other pages
allow only the provider itself."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME, add_citizen, csrf_token_of, log_in
from tests.oidc.flow import authorize_url, pkce_pair

CLIENT_ORIGIN = "https://rp.example.gub.uy"


def _form_action(response) -> str:
    policy = response.headers["content-security-policy"]
    return next(part.strip() for part in policy.split(";") if "form-action" in part)


def test_login_and_consent_of_a_pending_request_allow_the_client_origin(
    app: FastAPI, client: TestClient, register
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    registered = register()
    _, challenge = pkce_pair()
    started = client.get(
        authorize_url(registered.client_id, registered.redirect_uri, challenge),
        follow_redirects=False,
    )
    login_page = client.get(started.headers["location"])
    assert _form_action(login_page) == f"form-action 'self' {CLIENT_ORIGIN}"

    request_id = dict(parse_qsl(urlsplit(str(login_page.url)).query))["request_id"]
    posted = client.post(
        "/login",
        data={
            "csrf_token": csrf_token_of(login_page),
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
            "request_id": request_id,
        },
        follow_redirects=True,
    )
    assert urlsplit(str(posted.url)).path == "/consent"
    assert _form_action(posted) == f"form-action 'self' {CLIENT_ORIGIN}"


def test_pages_outside_a_flow_allow_only_the_provider(client: TestClient) -> None:
    assert _form_action(client.get("/login")) == "form-action 'self'"
    forged = client.get("/login", params={"request_id": "A" * 43})  # not this browser's
    assert _form_action(forged) == "form-action 'self'"


def test_the_logout_confirmation_allows_the_post_logout_origin(
    app: FastAPI, client: TestClient, register
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    registered = register(post_logout_redirect_uris=[f"{CLIENT_ORIGIN}/bye"])
    assert log_in(client).status_code == 303
    page = client.get(
        "/logout/oidc",
        params={
            "client_id": registered.client_id,
            "post_logout_redirect_uri": f"{CLIENT_ORIGIN}/bye",
        },
    )
    assert page.status_code == 200
    assert _form_action(page) == f"form-action 'self' {CLIENT_ORIGIN}"
