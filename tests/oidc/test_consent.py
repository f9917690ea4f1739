"""Consent over HTTP: the page (plain language in es/pt/en, client name escaped), allow and
deny, remembered and withdrawn consents, CSRF, pending requests bound to one browser and to
their lifetime; the storage on SQLite and PostgreSQL (OIDC Core 3.1.2.4, 5.4, 5.5, 11)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.app import create_app
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.clients import ClientMetadata, register_client
from idp.storage import authorization as pending_store
from idp.storage.models import AuthorizationCode, AuthorizationRequest, Consent, Grant
from tests.helpers import add_citizen, csrf_token_of, log_in
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient
from tests.oidc.flow import authorize_url, obtain_code, pkce_pair, query_of
from tests.oidc.test_authorize import (
    HTML,
    ISSUER,
    advance_clock,
    answer_consent,
    assert_error_page,
    assert_redirected_error,
    count,
    snapshot,
    start,
)
from tests.support.browser_flow import forms_of

Register = Callable[..., RegisteredClient]
ALL_SCOPES = "openid profile email phone address document offline_access"


def consent_location(client: TestClient, client_id: str, **extra: str) -> str:
    """Log in, start an authorization, and return the consent page's URL it leads to."""
    log_in(client)
    response = start(client, client_id, **extra)
    location = response.headers["location"]
    assert location.startswith("/consent?request_id="), location
    return location


def consent_row(app: FastAPI) -> Consent:
    with app.state.provider.database.transaction() as session:
        row = session.scalars(select(Consent)).one()
        session.expunge(row)
        return row


# --- the page ---------------------------------------------------------------------------------

SCOPE_LINES = {
    "es": [
        "Un identificador suyo para este servicio.",
        "Su nombre y apellido y su fecha de nacimiento.",
        "Su correo electrónico.",
        "Su número de teléfono.",
        "Su dirección.",
        "Su número y tipo de documento.",
        "Seguir accediendo a estos datos cuando usted no esté conectado.",
    ],
    "pt": [
        "Um identificador seu para este serviço.",
        "O seu nome e sobrenome e a sua data de nascimento.",
        "O seu e-mail.",
        "O seu número de telefone.",
        "O seu endereço.",
        "O número e o tipo do seu documento.",
        "Continuar acessando esses dados quando você não estiver conectado.",
    ],
    "en": [
        "An identifier of you for this service.",
        "Your given and family names and your date of birth.",
        "Your email address.",
        "Your phone number.",
        "Your address.",
        "Your document number and type.",
        "Keep accessing this data when you are not logged in.",
    ],
}
ALLOW_BUTTON = {"es": "Autorizar", "pt": "Autorizar", "en": "Allow"}
DENY_BUTTON = {"es": "No autorizar", "pt": "Não autorizar", "en": "Do not allow"}


@pytest.mark.parametrize("language", ["es", "pt", "en"])
def test_the_consent_page_says_scope_by_scope_what_the_service_receives(
    client: TestClient, register: Register, citizen_id: int, language: str
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id, scope=ALL_SCOPES, ui_locales=language)
    page = client.get(location)
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert "Portal de trámites" in page.text
    listed = [line for line in SCOPE_LINES[language] if f"<li>{line}</li>" in page.text]
    assert listed == SCOPE_LINES[language]
    form = forms_of(page.text)[0]
    assert (form.action, form.method) == ("/consent", "post")
    assert set(form.fields) == {"csrf_token", "request_id"}
    assert form.buttons == {"decision": ["allow", "deny"]}
    assert f'value="allow">{ALLOW_BUTTON[language]}</button>' in page.text
    assert f'value="deny" class="secondary">{DENY_BUTTON[language]}</button>' in page.text
    assert "<script" not in page.text.lower()


def test_claims_asked_for_by_name_are_listed_and_login_claims_are_not(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    claims = (
        '{"userinfo": {"email": null, "given_name": null, "shoe_size": null},'
        ' "id_token": {"acr": {"essential": true}, "auth_time": null}}'
    )
    location = consent_location(
        client, registered.client_id, claims=claims, ui_locales="en", scope="openid profile"
    )
    page = client.get(location).text
    assert "<li>Your email address.</li>" in page  # not in the profile scope
    assert "<li>The item “shoe_size”.</li>" in page  # unknown: named as it is
    assert "Your given name." not in page  # already part of the profile scope
    assert "acr" not in page
    assert "auth_time" not in page


def test_the_client_name_is_escaped(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register(client_name='Portal <script>alert(1)</script> & "Co"')
    page = client.get(consent_location(client, registered.client_id)).text
    assert "<script>" not in page
    assert "Portal &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;" in page


# --- the answer -------------------------------------------------------------------------------


def test_deny_sends_access_denied_and_stores_nothing(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id)
    denied = answer_consent(client, location, "deny")
    assert_redirected_error(denied, "access_denied")
    assert count(app, Grant) == 0
    assert count(app, AuthorizationCode) == 0
    assert count(app, Consent) == 0
    assert count(app, AuthorizationRequest) == 0  # the request is finished
    again = answer_consent_without_page(client, location, "allow", csrf_from="/account")
    assert_error_page(again, "authorization_request_invalid")
    assert count(app, Grant) == 0


def answer_consent_without_page(
    client: TestClient, location: str, decision: str, *, csrf_from: str
) -> object:
    token = csrf_token_of(client.get(csrf_from))
    return client.post(
        "/consent",
        data={
            "csrf_token": token,
            "request_id": query_of(location)["request_id"],
            "decision": decision,
        },
        headers=HTML,
        follow_redirects=False,
    )


def test_deny_in_form_post_mode_posts_the_error(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id, response_mode="form_post")
    denied = answer_consent(client, location, "deny")
    assert denied.status_code == 200
    form = forms_of(denied.text)[0]
    assert form.action == RP_REDIRECT_URI
    assert form.fields["error"] == "access_denied"
    assert form.fields["state"] == "state-123"
    assert form.fields["iss"] == ISSUER


def test_allow_records_the_consent_and_issues_the_code(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    claims = '{"userinfo": {"email": null, "acr": null}}'
    location = consent_location(client, registered.client_id, claims=claims)
    allowed = answer_consent(client, location)
    assert set(query_of(allowed.headers["location"])) == {"code", "state", "iss"}
    consent = consent_row(app)
    assert consent.citizen_id == citizen_id
    assert consent.client_id == registered.client_id
    assert consent.scopes == ["openid", "profile"]
    assert consent.claims == ["email"]
    assert consent.withdrawn_at is None
    assert abs(consent.granted_at - app.state.provider.clock()) < timedelta(seconds=30)
    assert count(app, Grant) == 1
    assert count(app, AuthorizationRequest) == 0


def test_an_invalid_decision_is_a_page_and_changes_nothing(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id)
    before = snapshot(app)
    answered = answer_consent_without_page(client, location, "maybe", csrf_from=location)
    assert_error_page(answered)
    assert snapshot(app) == before


def test_consent_without_or_with_a_wrong_csrf_token_is_refused_and_creates_nothing(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id)
    request_id = query_of(location)["request_id"]
    before = snapshot(app)
    for data in (
        {"request_id": request_id, "decision": "allow"},
        {"request_id": request_id, "decision": "allow", "csrf_token": "forged"},
    ):
        refused = client.post("/consent", data=data, headers=HTML, follow_redirects=False)
        assert refused.status_code == 403
        assert "<code>csrf_failed</code>" in refused.text
    assert snapshot(app) == before
    assert count(app, Grant) == 0
    assert count(app, AuthorizationCode) == 0
    assert count(app, AuthorizationRequest) == 1  # still waiting for a real answer


# --- remembering ------------------------------------------------------------------------------


def test_consent_is_remembered(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    again = start(client, registered.client_id)
    assert set(query_of(again.headers["location"])) == {"code", "state", "iss"}
    narrower = start(client, registered.client_id, scope="openid")
    assert narrower.headers["location"].startswith(RP_REDIRECT_URI + "?code=")
    assert count(app, Grant) == 3
    assert count(app, Consent) == 1


def test_a_withdrawn_consent_is_asked_again_and_replaced(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI, scope="openid email")
    with app.state.provider.database.transaction() as session:
        session.scalars(select(Consent)).one().withdrawn_at = app.state.provider.clock()
    asked = start(client, registered.client_id)
    assert asked.headers["location"].startswith("/consent?request_id=")
    assert_redirected_error(start(client, registered.client_id, prompt="none"), "consent_required")
    answer_consent(client, asked.headers["location"])
    consent = consent_row(app)
    assert consent.withdrawn_at is None
    assert consent.scopes == ["openid", "profile"]  # email was withdrawn, not granted again


def test_a_request_beyond_the_consent_asks_again_and_the_consent_grows(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    wider = start(client, registered.client_id, scope="openid profile offline_access")
    assert wider.headers["location"].startswith("/consent?request_id=")
    answer_consent(client, wider.headers["location"])
    assert consent_row(app).scopes == ["offline_access", "openid", "profile"]


def test_claims_are_covered_by_name_or_by_a_consented_scope(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI, scope="openid email")
    covered = start(
        client, registered.client_id, scope="openid", claims='{"userinfo": {"email": null}}'
    )
    assert covered.headers["location"].startswith(RP_REDIRECT_URI + "?code=")
    new_claim = '{"userinfo": {"phone_number": null}}'
    asked = start(client, registered.client_id, scope="openid", claims=new_claim)
    assert asked.headers["location"].startswith("/consent?request_id=")
    answer_consent(client, asked.headers["location"])
    assert consent_row(app).claims == ["phone_number"]
    remembered = start(client, registered.client_id, scope="openid", claims=new_claim)
    assert remembered.headers["location"].startswith(RP_REDIRECT_URI + "?code=")


def test_prompt_consent_asks_even_when_remembered(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    obtain_code(client, registered.client_id, RP_REDIRECT_URI)
    asked = start(client, registered.client_id, prompt="consent")
    assert asked.headers["location"].startswith("/consent?request_id=")


# --- the pending request ----------------------------------------------------------------------


def test_a_pending_request_from_another_browser_is_an_error_page(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id)
    request_id = query_of(location)["request_id"]
    before = snapshot(app)
    with TestClient(app, base_url=ISSUER) as other:
        log_in(other)
        token = csrf_token_of(other.get("/account"))
        responses = [
            other.get(f"/authorize/continue?request_id={request_id}", headers=HTML),
            other.get(f"/consent?request_id={request_id}", headers=HTML),
            other.post(
                "/consent",
                data={"csrf_token": token, "request_id": request_id, "decision": "allow"},
                headers=HTML,
                follow_redirects=False,
            ),
        ]
    for response in responses:
        assert_error_page(response, "authorization_request_invalid")
    after = snapshot(app)
    assert after["browser_session"] == before["browser_session"] + 1  # the other browser's
    assert {k: v for k, v in after.items() if k != "browser_session"} == {
        k: v for k, v in before.items() if k != "browser_session"
    }


def test_an_expired_pending_request_is_an_error_page(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id)
    page = client.get(location)
    ttl = app.state.provider.settings.authorization_request_ttl_seconds
    advance_clock(app, timedelta(seconds=ttl + 1))
    before = snapshot(app)
    expired_page = client.get(location, headers=HTML)
    expired_post = client.post(
        "/consent",
        data={
            "csrf_token": csrf_token_of(page),
            "request_id": query_of(location)["request_id"],
            "decision": "allow",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert_error_page(expired_page, "authorization_request_invalid")
    assert_error_page(expired_post, "authorization_request_invalid")
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "request_id", ["", "short", "x" * 65, "a" * 42 + "\x00", "../../etc/passwd" + "a" * 30]
)
def test_malformed_request_ids_are_an_error_page(
    app: FastAPI, client: TestClient, citizen_id: int, request_id: str
) -> None:
    log_in(client)
    query = urlencode({"request_id": request_id})
    for path in ("/authorize/continue", "/consent"):
        response = client.get(f"{path}?{query}", headers=HTML, follow_redirects=False)
        assert response.status_code == 400
        assert "location" not in response.headers


def test_a_finished_request_cannot_be_replayed(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    registered = register()
    location = consent_location(client, registered.client_id)
    page = client.get(location)
    data = {
        "csrf_token": csrf_token_of(page),
        "request_id": query_of(location)["request_id"],
        "decision": "allow",
    }
    first = client.post("/consent", data=data, follow_redirects=False)
    assert first.headers["location"].startswith(RP_REDIRECT_URI + "?code=")
    replay = client.post("/consent", data=data, headers=HTML, follow_redirects=False)
    assert_error_page(replay, "authorization_request_invalid")
    assert count(app, Grant) == 1


# --- both database backends -------------------------------------------------------------------


@pytest.fixture
def backend_app(database_url: str, settings_factory: Callable[..., Settings]) -> Iterator[FastAPI]:
    application = create_app(settings_factory(database_url))
    yield application
    application.state.provider.database.dispose()


def _register(app: FastAPI) -> str:
    with app.state.provider.database.transaction() as session:
        row, _ = register_client(
            session,
            metadata=ClientMetadata(client_name="Portal", redirect_uris=[RP_REDIRECT_URI]),
            now=utc_now(),
        )
        return row.client_id


def test_the_flow_and_the_consent_on_both_backends(backend_app: FastAPI) -> None:
    provider = backend_app.state.provider
    add_citizen(provider.database, provider.hasher)
    client_id = _register(backend_app)
    with TestClient(backend_app, base_url=ISSUER) as client:
        obtain_code(client, client_id, RP_REDIRECT_URI, scope="openid email")
        remembered = start(client, client_id, scope="openid email")
        assert remembered.headers["location"].startswith(RP_REDIRECT_URI + "?code=")
        with provider.database.transaction() as session:
            session.scalars(select(Consent)).one().withdrawn_at = provider.clock()
        asked = start(client, client_id)
        answer_consent(client, asked.headers["location"])
        # NUL bytes that PostgreSQL text refuses never reach the database.
        _, challenge = pkce_pair()
        nul_nonce = client.get(
            authorize_url(client_id, RP_REDIRECT_URI, challenge, nonce="a\x00b"),
            follow_redirects=False,
        )
        assert_redirected_error(nul_nonce, "invalid_request")
        nul_client = client.get(
            authorize_url(client_id + "\x00", RP_REDIRECT_URI, challenge), headers=HTML
        )
        assert_error_page(nul_client)
        nul_request = client.get("/consent?request_id=" + "a" * 42 + "%00", headers=HTML)
        assert_error_page(nul_request, "authorization_request_invalid")
    consent = consent_row(backend_app)
    assert consent.scopes == ["openid", "profile"]
    assert consent.withdrawn_at is None
    assert count(backend_app, Grant) == 3


def test_two_consents_at_the_same_moment_end_in_one_row(backend_app: FastAPI) -> None:
    """Two tabs consenting at once: the second insert meets the unique constraint, and
    ``record_consent`` updates the row the first one committed instead of failing."""
    provider = backend_app.state.provider
    citizen_id = add_citizen(provider.database, provider.hasher)
    client_id = _register(backend_app)
    first_inserted = threading.Event()
    second_started = threading.Event()
    errors: list[BaseException] = []

    def consent(scopes: list[str], *, first: bool) -> None:
        try:
            if not first:
                first_inserted.wait(10)
            with provider.database.transaction() as session:
                if not first:
                    second_started.set()
                pending_store.record_consent(
                    session,
                    citizen_id=citizen_id,
                    client_id=client_id,
                    scopes=scopes,
                    claims=[],
                    now=utc_now(),
                )
                if first:
                    first_inserted.set()
                    second_started.wait(10)
                    time.sleep(0.5)  # the second one is now waiting on the unique index
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=consent, args=(["openid", "email"],), kwargs={"first": True}),
        threading.Thread(target=consent, args=(["openid", "phone"],), kwargs={"first": False}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert consent_row(backend_app).scopes == ["email", "openid", "phone"]
