"""Self-registration at /register, driven over HTTP against the real app: a level 0 account,
signed in, with an email code on its way; bad input creates nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, EmailVerificationCode, OutboxMessage
from tests.helpers import add_citizen, csrf_token_of

FORM = {
    "document_number": "5.678.901-6",
    "given_name": "Lucía",
    "family_name": "Martínez",
    "birthdate": "2000-02-29",
    "email": "lucia@example.uy",
    "password": "una frase bastante larga",
    "password_confirmation": "una frase bastante larga",
}
TITLES = {
    "es": "Crear su identidad digital",
    "pt": "Criar a sua identidade digital",
    "en": "Create your digital identity",
}


def _state(app: FastAPI) -> dict[str, Any]:
    with app.state.provider.database.transaction() as session:
        return {
            "citizens": [
                (row.username, row.given_name, row.email, row.email_verified)
                for row in session.scalars(select(Citizen).order_by(Citizen.id))
            ],
            "codes": len(session.scalars(select(EmailVerificationCode)).all()),
            "outbox": [
                (row.recipient, row.subject)
                for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            ],
        }


def _register(client: TestClient, **changes: str) -> Any:
    page = client.get("/register")
    data = {"csrf_token": csrf_token_of(page), **FORM, **changes}
    return client.post("/register", data=data, follow_redirects=False)


@pytest.mark.parametrize("language", ["es", "pt", "en"])
def test_the_page_is_a_labelled_form_in_every_language(client: TestClient, language: str) -> None:
    page = client.get("/register", headers={"accept-language": language})
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert TITLES[language] in page.text
    for field in FORM:
        assert f'<label for="{field}">' in page.text
        assert f'id="{field}" name="{field}"' in page.text
    assert 'autocomplete="new-password"' in page.text
    assert len(csrf_token_of(page)) >= 32
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_registration_creates_a_level_0_account_and_mails_a_code(
    app: FastAPI, client: TestClient
) -> None:
    response = _register(client, document_number="5678901-6")

    assert (response.status_code, response.headers["location"]) == (303, "/account/email?sent=1")
    with app.state.provider.database.transaction() as session:
        citizen = session.scalars(select(Citizen)).one()
        assert (citizen.username, citizen.document_type, citizen.document_country) == (
            "56789016",
            "ci",
            "UY",
        )
        assert (citizen.given_name, citizen.family_name, str(citizen.birthdate)) == (
            "Lucía",
            "Martínez",
            "2000-02-29",
        )
        assert (citizen.email, citizen.email_verified) == ("lucia@example.uy", False)
        assert citizen.preferred_language == "es"
        assert citizen.password_hash
        assert "una frase" not in citizen.password_hash
        assert citizen_store.verification_level(session, citizen_id=citizen.id) == 0
        (message,) = session.scalars(select(OutboxMessage)).all()
        assert message.recipient == "lucia@example.uy"
        code = re.search(r"\b([0-9]{6})\b", message.body)
        assert code

    # Signed in: the email page asks for the code, and the code raises the level to 1.
    page = client.get(response.headers["location"])
    assert "lucia@example.uy" in page.text
    confirmed = client.post(
        "/account/email/confirm",
        data={"csrf_token": csrf_token_of(page), "code": code.group(1)},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert "Nivel 1" in client.get("/account").text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"document_number": ""}, "document_number", "Escriba su número de cédula."),
        (
            {"document_number": "5.678.901-7"},
            "document_number",
            "El dígito verificador de la cédula no coincide; revise el número.",
        ),
        (
            {"document_number": "ABC"},
            "document_number",
            "Escriba un número de cédula válido, como 1.234.567-2.",
        ),
        ({"given_name": "  "}, "given_name", "Escriba sus nombres."),
        ({"family_name": ""}, "family_name", "Escriba sus apellidos."),
        ({"given_name": "Lu\x00cía"}, "given_name", "caracteres no permitidos"),
        ({"birthdate": ""}, "birthdate", "Escriba su fecha de nacimiento."),
        ({"birthdate": "2001-02-29"}, "birthdate", "Escriba una fecha de nacimiento válida"),
        ({"birthdate": "2999-01-01"}, "birthdate", "Escriba una fecha de nacimiento válida"),
        ({"email": "lucia"}, "email", "Escriba una dirección de correo electrónico válida"),
        (
            {"password": "corta", "password_confirmation": "corta"},
            "password",
            "La contraseña debe tener al menos 8 caracteres.",
        ),
        ({"password": "", "password_confirmation": ""}, "password", "Elija una contraseña."),
        (
            {"password_confirmation": "otra frase diferente"},
            "password_confirmation",
            "Las dos contraseñas no coinciden.",
        ),
    ],
)
def test_bad_input_is_explained_and_creates_nothing(
    app: FastAPI, client: TestClient, changes: dict[str, str], field: str, message: str
) -> None:
    before = _state(app)

    response = _register(client, **changes)

    assert response.status_code == 400
    assert message in response.text
    assert f'<a href="#{field}">' in response.text  # the error summary links to the field
    assert re.search(rf'id="{field}" name="{field}"[^>]*aria-invalid="true"', response.text, re.S)
    assert FORM["password"] not in response.text  # passwords are never sent back
    if field != "given_name":
        assert 'value="Lucía"' in response.text  # the other answers are kept
    assert _state(app) == before
    assert "idp_session" in client.cookies  # still the anonymous session, not signed in
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login"


def test_several_errors_are_listed_together(app: FastAPI, client: TestClient) -> None:
    response = _register(client, document_number="1", email="", given_name="")
    assert response.status_code == 400
    for field in ("document_number", "given_name", "email"):
        assert f'<a href="#{field}">' in response.text
    assert _state(app)["citizens"] == []


def test_a_form_without_the_csrf_token_creates_nothing(app: FastAPI, client: TestClient) -> None:
    client.get("/register")
    before = _state(app)
    response = client.post("/register", data=FORM, headers={"accept": "text/html"})
    assert response.status_code == 403
    assert _state(app) == before


def test_a_registered_document_gets_a_neutral_answer(app: FastAPI, client: TestClient) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher, username="5.678.901-6", given_name="Otra")
    before = _state(app)

    response = _register(client)

    assert response.status_code == 409
    assert "No se puede crear una cuenta con este número de cédula." in response.text
    assert "Otra" not in response.text  # nothing about the existing account
    assert _state(app) == before  # no account, no code; no verified address to tell


def test_the_owner_of_a_registered_document_is_told_once(app: FastAPI, client: TestClient) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher, username="5.678.901-6")
    with provider.database.transaction() as session:
        owner = session.scalars(select(Citizen)).one()
        owner.email, owner.email_verified = "owner@example.uy", True

    assert _register(client).status_code == 409
    assert _register(client, email="other@example.uy").status_code == 409

    state = _state(app)
    assert len(state["citizens"]) == 1
    assert state["outbox"] == [("owner@example.uy", "Intento de registro con su número de cédula")]


def test_a_signed_in_citizen_is_sent_to_the_account(app: FastAPI, client: TestClient) -> None:
    page = client.get("/register")
    token = csrf_token_of(page)
    assert _register(client).status_code == 303
    response = client.get("/register", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/account")
    before = _state(app)
    other = {
        **FORM,
        "document_number": "3.141.592-1",
        "csrf_token": csrf_token_of(client.get("/account/email")),
    }
    assert token != other["csrf_token"]  # the session was rotated at sign-in
    response = client.post("/register", data=other, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/account")
    assert _state(app) == before


def test_registrations_from_one_address_are_throttled(app: FastAPI, client: TestClient) -> None:
    """Each attempt costs an argon2id hash and may create an account: from the tenth attempt
    on, one address waits, with a clear message, and nothing is created meanwhile."""
    answers = []
    for _ in range(10):
        client.cookies.clear()  # a new browser each time, as a script would do
        answers.append(_register(client).status_code)
    assert answers == [303] + [409] * 9  # created once, then "already registered"

    client.cookies.clear()
    before = _state(app)
    refused = _register(client, document_number="1.234.567-2")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Hubo demasiados registros desde esta conexión" in refused.text
    assert _state(app) == before
