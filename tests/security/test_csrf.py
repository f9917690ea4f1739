"""CSRF (RFC 9700 4.7, OWASP CSRF cheat sheet): every form the provider serves to a browser
carries a synchronizer token, and a POST without it is refused with 403 and changes nothing.

The list of form endpoints is read from the application itself, so a new form without CSRF
protection fails here; the OAuth endpoints that are not browser forms are listed with why.
"""

from __future__ import annotations

import warnings

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, table

from tests.helpers import add_citizen, log_in

NOT_BROWSER_FORMS = {
    "/authorize": "an OAuth request; it changes nothing until the citizen logs in and consents",
    "/token": "authenticated by client credentials, not by the browser session",
    "/introspect": "authenticated by client credentials",
    "/revoke": "authenticated by client credentials",
    "/userinfo": "authenticated by a bearer access token",
    "/signature/requests": "the signature API: authenticated by a bearer access token (JSON)",
    "/signature/verify": "public verification of a signature: changes nothing (JSON)",
    "/logout/oidc": "RP-initiated logout: without a valid id_token_hint it only shows a "
    "confirmation form, which carries a CSRF token (tested below)",
}

FORM_FIELDS = {
    "request_id": "A" * 43,
    "decision": "allow",
    "code": "123456",
    "recovery_code": "ABCDE-FGHJK",
    "action": "start",
    "email": "someone@example.org",
    "username": "12345672",
    "password": "a long enough password 7",
    "password_confirmation": "a long enough password 7",
    "card_response": "x.y.z",
}


def _post_paths(app: FastAPI) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate operation ids of GET/POST routes
        paths = app.openapi()["paths"]
    return sorted(path for path, operations in paths.items() if "post" in operations)


def _row_counts(app: FastAPI) -> dict[str, int]:
    database = app.state.provider.database
    with database.transaction() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {
            name: session.scalar(select(func.count()).select_from(table(name))) or 0
            for name in names
        }


def test_the_form_endpoints_are_known(app: FastAPI) -> None:
    """A new POST endpoint must be classified: a form (tested below) or listed above."""
    forms = [path for path in _post_paths(app) if path not in NOT_BROWSER_FORMS]
    assert "/login" in forms
    assert "/consent" in forms
    assert set(NOT_BROWSER_FORMS) <= set(_post_paths(app))


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient, subtests: pytest.Subtests
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    assert log_in(client).status_code == 303
    forms = [path for path in _post_paths(app) if path not in NOT_BROWSER_FORMS]
    assert len(forms) >= 8

    for path in forms:
        with subtests.test(path=path):
            before = _row_counts(app)
            for data in (FORM_FIELDS, {**FORM_FIELDS, "csrf_token": "forged-token-value"}):
                response = client.post(path, data=data, follow_redirects=False)
                assert response.status_code == 403, (path, response.status_code)
            assert _row_counts(app) == before
            assert client.get("/account", follow_redirects=False).status_code == 200


def test_rp_initiated_logout_without_a_hint_asks_before_logging_out(
    app: FastAPI, client: TestClient
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    assert log_in(client).status_code == 303
    page = client.post("/logout/oidc", data={}, follow_redirects=False)
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert client.get("/account", follow_redirects=False).status_code == 200
