"""Cross-site scripting through values an attacker controls: client names (registered by an
operator, but often copied from a requester), ``ui_locales``, ``login_hint``, ``state`` and
parameters echoed in error pages. Jinja2 autoescaping and a script-free Content-Security-Policy
both stand in the way; these tests check the first and the header of the second."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import add_citizen, csrf_token_of, log_in
from tests.oidc.flow import pkce_pair

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def _assert_inert(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror" not in html
    assert "<script" not in html.lower()


def test_a_client_name_with_markup_is_shown_as_text(
    app: FastAPI, client: TestClient, register
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    registered = register(client_name=f"Portal {PAYLOAD}")
    assert log_in(client).status_code == 303
    _, challenge = pkce_pair()
    query = urlencode(
        {
            "client_id": registered.client_id,
            "redirect_uri": registered.redirect_uri,
            "response_type": "code",
            "scope": "openid profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    consent = client.get(f"/authorize?{query}", follow_redirects=True)
    assert "Portal &#34;&gt;&lt;script&gt;" in consent.text or "Portal &quot;&gt;" in consent.text
    _assert_inert(consent.text)


def test_parameters_echoed_on_pages_are_escaped(client: TestClient) -> None:
    pages = [
        client.get("/login", params={"login_hint": PAYLOAD, "ui_locales": PAYLOAD}),
        client.get("/authorize", params={"client_id": PAYLOAD, "redirect_uri": PAYLOAD}),
        client.get("/authorize", params={"client_id": "unknown", "state": PAYLOAD}),
        client.get("/login", params={"request_id": PAYLOAD}),
        client.get("/register", params={"request_id": PAYLOAD}),
    ]
    for page in pages:
        _assert_inert(page.text)
        policy = page.headers["content-security-policy"]
        assert "script-src" not in policy or "'unsafe-inline'" not in policy
        assert "default-src 'none'" in policy or "script-src 'none'" in policy


def test_a_login_form_error_does_not_reflect_markup(client: TestClient) -> None:
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf_token": csrf_token_of(page), "username": PAYLOAD, "password": "x"},
    )
    assert answer.status_code in (400, 401)
    _assert_inert(answer.text)
