"""Cross-site scripting through values an attacker controls: client names (registered by an
operator, but often copied from a requester), ``ui_locales``, ``login_hint``, ``state``,
``request_id`` and parameters echoed in error pages and in the ``form_post`` answer (OAuth 2.0
Form Post Response Mode: ``state`` and ``error`` travel in hidden fields), and redirect URIs
that would become links. Jinja2 autoescaping, a script-free Content-Security-Policy and the
registration rules stand in the way; each test names the one it shows. The provider accepts
no ``logo_uri`` (nothing a client registers is ever loaded as an image or a script)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.oidc.clients import (
    ApplicationType,
    ClientMetadata,
    ClientRegistrationError,
    check_redirect_uri,
    validate_metadata,
)
from tests.helpers import add_citizen, csrf_token_of, log_in
from tests.oidc.flow import authorize_url, pkce_pair
from tests.support.browser_flow import forms_of

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
HTML = {"accept": "text/html"}


def _assert_inert(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror" not in html
    assert "<script" not in html.lower()


def _assert_script_free_policy(policy: str) -> None:
    assert "'unsafe-inline'" not in policy
    assert "default-src 'none'" in policy
    assert "script-src 'none'" in policy or "script-src" not in policy


def test_a_client_name_with_markup_is_shown_as_text_on_the_consent_page(
    app: FastAPI, client: TestClient, register
) -> None:
    """Autoescaping: the client name reaches the page through a translated sentence."""
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


ECHOED = {
    "login_hint": ("/login", {"login_hint": PAYLOAD}),
    "ui_locales": ("/login", {"ui_locales": PAYLOAD}),
    "authorize-client_id-and-redirect_uri": (
        "/authorize",
        {"client_id": PAYLOAD, "redirect_uri": PAYLOAD},
    ),
    "authorize-state-of-an-unknown-client": ("/authorize", {"client_id": "x", "state": PAYLOAD}),
    "login-request_id": ("/login", {"request_id": PAYLOAD}),
    "register-request_id": ("/register", {"request_id": PAYLOAD}),
    "error-page-lang": ("/no-such-page", {"lang": PAYLOAD, "ui_locales": PAYLOAD}),
}


@pytest.mark.parametrize(("path", "params"), ECHOED.values(), ids=ECHOED.keys())
def test_parameters_echoed_on_pages_are_escaped(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    page = client.get(path, params=params, headers=HTML)
    _assert_inert(page.text)
    _assert_script_free_policy(page.headers["content-security-policy"])


def test_a_login_hint_comes_back_as_the_escaped_value_of_the_username_field(
    client: TestClient,
) -> None:
    """The one parameter a page must show: it is there, as text, not as markup."""
    page = client.get("/login", params={"login_hint": PAYLOAD})
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    _assert_inert(page.text)


def test_a_login_form_error_does_not_reflect_markup(client: TestClient) -> None:
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf_token": csrf_token_of(page), "username": PAYLOAD, "password": "x"},
    )
    assert answer.status_code in (400, 401)
    _assert_inert(answer.text)


def test_state_and_client_name_in_a_form_post_error_stay_inside_their_fields(
    client: TestClient, register
) -> None:
    """OAuth 2.0 Form Post Response Mode 2: the error answer is an HTML form whose hidden
    fields carry the caller's ``state`` verbatim; a quote in it must not end the attribute."""
    registered = register(client_name=f"Portal {PAYLOAD}")
    _, challenge = pkce_pair()
    url = authorize_url(
        registered.client_id,
        registered.redirect_uri,
        challenge,
        response_type="token",  # refused: an error answered through the form
        response_mode="form_post",
        state=PAYLOAD,
    )
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 200
    _assert_inert(response.text)
    (form,) = forms_of(response.text)
    assert form.fields["error"] == "unsupported_response_type"
    assert form.fields["state"] == PAYLOAD  # the same value, carried as text
    assert PAYLOAD not in form.fields.get("error_description", "")
    _assert_script_free_policy(response.headers["content-security-policy"])


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)",
        "data:text/html,hello",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg",
        "vbscript:msgbox(1)",
    ],
)
@pytest.mark.parametrize("application_type", list(ApplicationType))
def test_redirect_uris_with_a_scheme_that_runs_code_are_refused_by_name(
    uri: str, application_type: ApplicationType
) -> None:
    """A redirect URI becomes a link (the 'back to the service' buttons) and a form action:
    registration refuses the schemes that run code, naming the rule (RFC 9700 4.1.1,
    RFC 8252 7.1 for native apps)."""
    with pytest.raises(ClientRegistrationError, match="unsafe scheme"):
        check_redirect_uri(uri, application_type, label="redirect URI")
    metadata = ClientMetadata(
        client_name="x", redirect_uris=[uri], application_type=application_type
    )
    with pytest.raises(ClientRegistrationError):
        validate_metadata(metadata)
