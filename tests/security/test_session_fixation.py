"""Session fixation and cookie hardening, over HTTP (OWASP ASVS 3.2.1 "new session token on
user authentication"; CWE-384; RFC 6265bis 4.1.3.2 for the ``__Host-`` prefix; OIDC Core
3.1.2.3 step-up is an authentication too).

An attacker who can plant a session cookie in a citizen's browser (a sibling subdomain, an
http page on the same host, a shared computer) waits for the citizen to sign in; if the
provider keeps the cookie's value, the attacker is now signed in as the citizen (the class of
CVE-2023-3894, CVE-2021-29501). The store-level rotation is in
``tests/accounts/test_sessions.py``; here the real app is driven and the old cookie replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from idp.app import create_app
from idp.assurance.totp import code_at
from idp.config import Settings
from idp.context import utc_now
from idp.web.browser import session_cookie_name
from tests.assurance.test_totp import enrolled
from tests.helpers import add_citizen, csrf_token_of, log_in

COOKIE = session_cookie_name(https=False)
HTTPS_COOKIE = session_cookie_name(https=True)


def session_cookie_of(response: Response, name: str = COOKIE) -> SimpleCookie | None:
    """The Set-Cookie of the session in ``response``, parsed with its attributes."""
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            return parsed
    return None


def is_signed_in(
    app: FastAPI, cookie_value: str, *, base_url: str = "http://127.0.0.1:8000"
) -> bool:
    """A fresh browser presenting only ``cookie_value``: does /account open?"""
    with TestClient(app, base_url=base_url) as other:
        other.cookies.set(COOKIE if base_url.startswith("http:") else HTTPS_COOKIE, cookie_value)
        return other.get("/account", follow_redirects=False).status_code == 200


def test_a_cookie_from_before_the_login_is_replaced_and_dies(
    app: FastAPI, client: TestClient, citizen_id: int
) -> None:
    client.get("/login")
    before = client.cookies.get(COOKIE)
    assert before, "the login page starts an anonymous session (for its CSRF token)"

    response = log_in(client)

    assert response.status_code == 303, response.text
    after = session_cookie_of(response)
    assert after is not None
    assert after[COOKIE].value != before
    assert is_signed_in(app, after[COOKIE].value)
    assert not is_signed_in(app, before)


def test_a_cookie_value_planted_by_an_attacker_is_never_adopted(
    app: FastAPI, client: TestClient, citizen_id: int
) -> None:
    planted = "attacker-chosen-session-value-0123456789abcdef"
    client.cookies.set(COOKIE, planted)
    response = log_in(client)
    assert response.status_code == 303, response.text
    issued = session_cookie_of(response)
    assert issued is not None
    assert issued[COOKIE].value != planted
    assert not is_signed_in(app, planted)


def test_step_up_replaces_the_cookie_and_the_lower_session_dies(
    app: FastAPI, client: TestClient, citizen_id: int
) -> None:
    now = utc_now()
    secret, _ = enrolled(app, citizen_id, now)
    assert log_in(client).status_code == 303
    signed_in = client.cookies.get(COOKIE)
    assert signed_in
    assert is_signed_in(app, signed_in)

    page = client.get("/step-up/totp")
    response = client.post(
        "/step-up/totp",
        data={"csrf_token": csrf_token_of(page), "code": code_at(secret, now)},
        follow_redirects=False,
    )

    assert response.status_code == 303, response.text
    elevated = session_cookie_of(response)
    assert elevated is not None
    assert elevated[COOKIE].value != signed_in
    assert is_signed_in(app, elevated[COOKIE].value)
    assert not is_signed_in(app, signed_in)


def test_logout_ends_the_session_on_the_server(
    app: FastAPI, client: TestClient, citizen_id: int
) -> None:
    assert log_in(client).status_code == 303
    value = client.cookies.get(COOKIE)
    assert value
    assert is_signed_in(app, value)
    page = client.get("/account")

    response = client.post(
        "/logout", data={"csrf_token": csrf_token_of(page)}, follow_redirects=False
    )

    assert response.status_code == 303
    cleared = session_cookie_of(response)
    assert cleared is not None
    assert cleared[COOKIE]["max-age"] == "0" or cleared[COOKIE]["expires"]
    # A copy of the cookie kept by an attacker (or a browser that ignores the deletion) is
    # worthless: the server forgot the session.
    assert not is_signed_in(app, value)


def test_cookie_flags_on_http_loopback(client: TestClient, citizen_id: int) -> None:
    response = log_in(client)
    cookie = session_cookie_of(response)
    assert cookie is not None
    morsel = cookie[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert not morsel["secure"]  # a development issuer on http://127.0.0.1


@pytest.fixture
def https_app(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[FastAPI]:
    application = create_app(
        settings_factory(sqlite_database_url, issuer="https://idp.example.gub.uy")
    )
    provider = application.state.provider
    add_citizen(provider.database, provider.hasher)
    yield application
    provider.database.dispose()


def test_cookie_flags_under_an_https_issuer(https_app: FastAPI) -> None:
    """RFC 6265bis 4.1.3.2: ``__Host-`` binds the cookie to this host (Secure, Path=/, no
    Domain), so a sibling subdomain cannot plant or overwrite it."""
    with TestClient(https_app, base_url="https://idp.example.gub.uy") as browser:
        page = browser.get("/login")
        anonymous = session_cookie_of(page, HTTPS_COOKIE)
        response = browser.post(
            "/login",
            data={
                "csrf_token": csrf_token_of(page),
                "username": "1.234.567-2",
                "password": "correct horse battery",
            },
            follow_redirects=False,
        )
    assert response.status_code == 303, response.text
    assert session_cookie_of(response, COOKIE) is None  # never the unprefixed name
    for answer in (anonymous, session_cookie_of(response, HTTPS_COOKIE)):
        assert answer is not None
        morsel = answer[HTTPS_COOKIE]
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "lax"
        assert morsel["path"] == "/"
        assert not morsel["domain"]
