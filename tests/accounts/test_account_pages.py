"""The account pages about the citizen's data over HTTP: connected services (what each receives,
withdrawing consent revokes the grants and consent is asked again), the activity page (plain
language in es/pt/en, newest first, paginated), CSRF, ownership and escaping."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.accounts.account_pages import PAGE_SIZE
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.context import utc_now
from idp.storage import authorization as consent_store
from idp.storage import grants as grant_store
from idp.storage.models import AuditRecord, Consent, Grant
from tests.helpers import add_citizen, csrf_token_of, log_in
from tests.oidc.conftest import RegisteredClient
from tests.oidc.flow import authorize_url, obtain_code, pkce_pair, redeem

Register = Callable[..., RegisteredClient]
SERVICES = "/account/services"
WITHDRAW = "/account/services/withdraw"
ACTIVITY = "/account/activity"
OTHER_USERNAME = "5.678.901-6"


# --- helpers ----------------------------------------------------------------------------------


def connect(client: TestClient, rp: RegisteredClient, **overrides: Any) -> dict[str, Any]:
    """Log in if needed, consent through the real /authorize flow, and redeem the code."""
    code, verifier = obtain_code(client, rp.client_id, rp.redirect_uri, **overrides)
    response = redeem(client, rp.client_id, rp.client_secret, code, verifier, rp.redirect_uri)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def withdraw(client: TestClient, client_id: str, *, csrf_token: str | None = "") -> httpx.Response:
    """POST the withdraw form; ``csrf_token=""`` takes the session's own token."""
    if csrf_token == "":
        csrf_token = csrf_token_of(client.get("/account"))
    data = {"client_id": client_id}
    if csrf_token is not None:
        data["csrf_token"] = csrf_token
    return client.post(WITHDRAW, data=data, follow_redirects=False)


def refresh(client: TestClient, rp: RegisteredClient, token: str) -> httpx.Response:
    return client.post(
        "/token",
        auth=(rp.client_id, rp.client_secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": token},
    )


def state_of(app: FastAPI) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """Consents, grants and the number of audit records: what a withdrawal may change."""
    with app.state.provider.database.transaction() as session:
        consents = [
            tuple(row)
            for row in session.execute(
                select(Consent.citizen_id, Consent.client_id, Consent.withdrawn_at).order_by(
                    Consent.id
                )
            )
        ]
        grants = [
            tuple(row)
            for row in session.execute(select(Grant.id, Grant.revoked_at).order_by(Grant.id))
        ]
        audit = int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)
    return consents, grants, audit


def activity_rows(page: httpx.Response) -> list[str]:
    body = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.DOTALL)


# --- not signed in ----------------------------------------------------------------------------


def test_the_pages_send_a_visitor_to_the_login_page(client: TestClient) -> None:
    for path in (SERVICES, ACTIVITY):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


def test_the_account_page_links_to_both_pages(client: TestClient, citizen_id: int) -> None:
    log_in(client)
    page = client.get("/account", headers={"accept-language": "en"})
    assert f'<a href="{SERVICES}">Services connected to your identity</a>' in page.text
    assert f'<a href="{ACTIVITY}">Activity of your identity</a>' in page.text


# --- connected services -----------------------------------------------------------------------


def test_services_are_listed_with_the_data_each_receives(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    client.headers["accept-language"] = "en"
    portal = register()
    health = register(client_name="Agenda de salud")
    connect(client, portal, scope="openid profile")
    connect(client, health, scope="openid email")

    page = client.get(SERVICES)

    assert page.status_code == 200
    assert "<h1>Services connected to your identity</h1>" in page.text
    portal_part, health_part = (
        page.text.split(">Portal de trámites</h2>")[1],
        page.text.split(">Agenda de salud</h2>")[1],
    )
    assert (
        "Your given and family names and your date of birth." in portal_part.split("</section>")[0]
    )
    assert "Your email address." in health_part.split("</section>")[0]
    assert "Your email address." not in portal_part.split("</section>")[0]
    assert "An identifier of you for this service." in page.text
    assert "<button" in page.text
    assert ">Withdraw consent for Portal de trámites</button>" in page.text
    assert ">Withdraw consent for Agenda de salud</button>" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_with_no_service_the_page_says_so(client: TestClient, citizen_id: int) -> None:
    log_in(client)
    page = client.get(SERVICES, headers={"accept-language": "es"})
    assert "No hay servicios conectados a su identidad." in page.text
    assert "<form" not in page.text.split("<main", 1)[1].split("</main>")[0]


def test_withdrawing_revokes_the_grants_and_consent_is_asked_again(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    client.headers["accept-language"] = "en"
    rp = register()
    first = connect(client, rp)
    second = connect(client, rp)
    assert "refresh_token" in first
    assert "refresh_token" in second

    response = withdraw(client, rp.client_id)

    assert response.status_code == 303
    assert response.headers["location"] == f"{SERVICES}?withdrawn={rp.client_id}"
    confirmation = client.get(response.headers["location"])
    assert "You withdrew your consent for “Portal de trámites”." in confirmation.text
    assert 'role="status"' in confirmation.text
    assert "Withdraw consent for Portal de trámites" not in confirmation.text

    consents, grants, _ = state_of(app)
    assert [(c[0], c[1]) for c in consents] == [(citizen_id, rp.client_id)]
    assert consents[0][2] is not None
    assert len(grants) == 2
    assert all(revoked_at is not None for _, revoked_at in grants)

    for tokens in (first, second):
        refused = refresh(client, rp, tokens["refresh_token"])
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
        userinfo = client.get(
            "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.status_code == 401

    with app.state.provider.database.transaction() as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.event == AuditEvent.CONSENT_WITHDRAWN)
        ).one()
        assert (record.citizen_id, record.client_id) == (citizen_id, rp.client_id)
        assert record.details == {"grants_revoked": 2}
        assert audit_log.verify_chain(session).first_broken is None

    _, challenge = pkce_pair()
    again = client.get(
        authorize_url(rp.client_id, rp.redirect_uri, challenge), follow_redirects=False
    )
    assert again.status_code == 303
    assert again.headers["location"].startswith("/consent?request_id=")


def test_a_confirmation_link_for_a_consent_in_force_claims_nothing(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    connect(client, rp)
    page = client.get(f"{SERVICES}?withdrawn={rp.client_id}", headers={"accept-language": "en"})
    assert "You withdrew" not in page.text
    assert 'role="status"' not in page.text


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_withdrawing_without_the_csrf_token_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int, token: str | None
) -> None:
    rp = register()
    tokens = connect(client, rp)
    before = state_of(app)

    response = withdraw(client, rp.client_id, csrf_token=token)

    assert response.status_code == 403
    assert state_of(app) == before
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_withdrawing_another_citizens_or_an_unknown_consent_is_refused(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    provider = app.state.provider
    theirs = register(client_name="Servicio de otra persona")
    other_id = add_citizen(provider.database, provider.hasher, username=OTHER_USERNAME)
    now = utc_now()
    with provider.database.transaction() as session:
        consent_store.record_consent(
            session,
            citizen_id=other_id,
            client_id=theirs.client_id,
            scopes=["openid", "profile"],
            claims=[],
            now=now,
        )
        grant_store.add_grant(
            session,
            grant=Grant(
                id=secrets.token_urlsafe(32),
                client_id=theirs.client_id,
                citizen_id=other_id,
                scope="openid profile",
                auth_time=now,
                created_at=now,
                expires_at=now + timedelta(days=1),
            ),
        )
    log_in(client)
    before = state_of(app)

    for client_id, status in (
        (theirs.client_id, 404),
        ("unknown-client", 404),
        ("", 404),
        ("x" * 65, 400),
    ):
        response = withdraw(client, client_id)
        assert response.status_code == status, (client_id, response.text)

    assert state_of(app) == before
    page = client.get(SERVICES)
    assert "Servicio de otra persona" not in page.text


# --- activity ---------------------------------------------------------------------------------

ACTIVITY_TEXTS = {
    "es": (
        "Ingresó con su contraseña desde la dirección testclient.",
        "Autorizó a «Portal de trámites» a recibir sus datos:",
        "Se enviaron sus datos a «Portal de trámites»:",
        "Su nombre y apellido y su fecha de nacimiento.",
    ),
    "pt": (
        "Você entrou com a sua senha a partir do endereço testclient.",
        "Você autorizou «Portal de trámites» a receber os seus dados:",
        "Os seus dados foram enviados para «Portal de trámites»:",
        "O seu nome e sobrenome e a sua data de nascimento.",
    ),
    "en": (
        "You logged in with your password from the address testclient.",
        "You allowed “Portal de trámites” to receive your data:",
        "Your data was sent to “Portal de trámites”:",
        "Your given and family names and your date of birth.",
    ),
}


@pytest.mark.parametrize("language", ["es", "pt", "en"])
def test_activity_shows_login_consent_and_data_shared(
    client: TestClient, register: Register, citizen_id: int, language: str
) -> None:
    rp = register()
    connect(client, rp)

    page = client.get(ACTIVITY, headers={"accept-language": language})

    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    login, consent, shared, data = ACTIVITY_TEXTS[language]
    rows = activity_rows(page)
    assert len(rows) == 3
    assert shared in rows[0]
    assert data in rows[0]
    assert consent in rows[1]
    assert data in rows[1]
    assert login in rows[2]
    assert '<th scope="col">' in page.text
    assert "<caption>" in page.text


def test_data_shared_is_recorded_when_a_code_is_issued(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register()
    claims = '{"userinfo": {"email": null}, "id_token": {"acr": null}}'
    connect(client, rp, scope="openid profile", claims=claims)
    connect(client, rp, scope="openid profile", claims=claims)  # remembered consent: no page
    with app.state.provider.database.transaction() as session:
        shared = session.scalars(
            select(AuditRecord).where(AuditRecord.event == AuditEvent.DATA_SHARED)
        ).all()
        assert len(shared) == 2
        for record in shared:
            assert (record.citizen_id, record.client_id) == (citizen_id, rp.client_id)
            assert record.actor == f"citizen:{citizen_id}"
            assert record.details == {"scopes": ["openid", "profile"], "claims": ["acr", "email"]}
    page = client.get(ACTIVITY, headers={"accept-language": "en"})
    assert "Your email address." in activity_rows(page)[0]


def test_activity_of_a_deleted_client_shows_its_id_and_other_events_read_plainly(
    app: FastAPI, client: TestClient, citizen_id: int
) -> None:
    provider = app.state.provider
    with provider.database.transaction() as session:
        for event, client_id, details in (
            (AuditEvent.CONSENT_WITHDRAWN, "deleted-client", {}),
            (AuditEvent.VERIFICATION_RECORDED, None, {"level": 2, "method": "registry_match"}),
            (AuditEvent.STEP_UP, None, {"method": "totp", "address": "203.0.113.7"}),
            (AuditEvent.SIGNATURE_CREATED, "deleted-client", {}),
            (AuditEvent.KEY_CHANGED, None, {}),  # not about the citizen's identity: hidden
        ):
            audit_log.append(
                session,
                event=event,
                actor="test",
                now=provider.clock(),
                citizen_id=citizen_id,
                client_id=client_id,
                details=details,
            )
    log_in(client)

    rows = activity_rows(client.get(ACTIVITY, headers={"accept-language": "en"}))

    assert len(rows) == 5  # the four above and the login
    assert "You signed a document for “deleted-client”." in rows[1]
    assert "You confirmed it was you with a code from your authenticator app" in rows[2]
    assert "from the address 203.0.113.7." in rows[2]
    assert "Your identity was verified at level 2:" in rows[3]
    assert "Level 2: your identity was verified against the civil registry." in rows[3]
    assert "You withdrew your consent for “deleted-client”." in rows[4]


def test_activity_is_paginated_newest_first(
    app: FastAPI, client: TestClient, citizen_id: int
) -> None:
    provider = app.state.provider
    other_id = add_citizen(provider.database, provider.hasher, username=OTHER_USERNAME)
    extra = PAGE_SIZE + 10
    with provider.database.transaction() as session:
        for number in range(extra):
            audit_log.append(
                session,
                event=AuditEvent.LOGIN_SUCCEEDED,
                actor="test",
                now=provider.clock(),
                citizen_id=citizen_id,
                details={"method": "password", "address": f"198.51.100.{number}"},
            )
        audit_log.append(  # someone else's activity is never shown
            session,
            event=AuditEvent.LOGIN_SUCCEEDED,
            actor="test",
            now=provider.clock(),
            citizen_id=other_id,
            details={"method": "card", "address": "192.0.2.1"},
        )
    client.headers["accept-language"] = "en"
    log_in(client)

    first = client.get(ACTIVITY)
    rows = activity_rows(first)
    assert len(rows) == PAGE_SIZE
    assert "testclient" in rows[0]  # the login just now
    assert f"198.51.100.{extra - 1}." in rows[1]
    assert f'href="{ACTIVITY}?page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text

    second = client.get(f"{ACTIVITY}?page=2")
    rows = activity_rows(second)
    assert len(rows) == extra + 1 - PAGE_SIZE
    assert "198.51.100.0." in rows[-1]
    assert f'href="{ACTIVITY}?page=1" rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    assert "192.0.2.1" not in first.text + second.text

    empty = client.get(f"{ACTIVITY}?page=9")
    assert "There is no activity to show." in empty.text
    for bad in ("0", "-1", "abc", "100001"):
        assert client.get(f"{ACTIVITY}?page={bad}").status_code == 400


# --- escaping ---------------------------------------------------------------------------------


def test_a_client_name_with_markup_is_escaped(
    client: TestClient, register: Register, citizen_id: int
) -> None:
    rp = register(client_name="<script>alert(1)</script> Portal")
    connect(client, rp)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; Portal"
    for path in (SERVICES, ACTIVITY):
        page = client.get(path, headers={"accept-language": "en"})
        assert "<script>" not in page.text
        assert escaped in page.text
    confirmation = client.get(
        withdraw(client, rp.client_id).headers["location"], headers={"accept-language": "en"}
    )
    assert "<script>" not in confirmation.text
    assert escaped in confirmation.text
