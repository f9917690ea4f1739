"""Cookie flags and security headers, on http (loopback) and https issuers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.app import create_app
from idp.config import Settings
from tests.helpers import add_citizen, log_in

HTTPS_ISSUER = "https://id.example.gub.uy"


@pytest.fixture
def https_app(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[FastAPI]:
    application = create_app(settings_factory(sqlite_database_url, issuer=HTTPS_ISSUER))
    yield application
    application.state.provider.database.dispose()


def _set_cookie_headers(response: object) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[attr-defined]


def test_session_cookie_on_a_loopback_http_issuer(client: TestClient) -> None:
    (cookie,) = _set_cookie_headers(client.get("/login"))
    assert cookie.startswith("idp_session=")
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes


def test_session_cookie_on_an_https_issuer_is_secure_with_the_host_prefix(
    https_app: FastAPI,
) -> None:
    with TestClient(https_app, base_url=HTTPS_ISSUER) as client:
        response = client.get("/login")
        (cookie,) = _set_cookie_headers(response)
        assert cookie.startswith("__Host-idp_session=")
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert {"httponly", "secure", "samesite=lax", "path=/"} <= set(attributes)
        assert not any(attribute.startswith("domain=") for attribute in attributes)
        assert response.headers["strict-transport-security"].startswith("max-age=")

        provider = https_app.state.provider
        add_citizen(provider.database, provider.hasher)
        assert log_in(client).status_code == 303
        assert client.get("/account").status_code == 200


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/login", "text/html"),
        ("/static/style.css", "text/css"),
        ("/no-such-page", "text/html"),
        ("/no-such-page", "application/json"),
    ],
)
def test_security_headers_on_every_response(client: TestClient, path: str, accept: str) -> None:
    response = client.get(path, headers={"accept": accept})
    csp = response.headers["content-security-policy"]
    assert "script-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers  # http issuer: no HSTS
