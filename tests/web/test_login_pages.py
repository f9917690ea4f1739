"""Login, account and logout pages driven over HTTP against the real app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.storage.models import BrowserSession, LoginFailureCounter
from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME, add_citizen, csrf_token_of, log_in


def _count(app: FastAPI, model: type) -> int:
    with app.state.provider.database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _provisioned(app: FastAPI, **kwargs: object) -> int:
    provider = app.state.provider
    return add_citizen(provider.database, provider.hasher, **kwargs)  # type: ignore[arg-type]


def test_login_page_is_a_labelled_form_with_a_csrf_token(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="es">' in html
    assert '<label for="username">' in html
    assert 'id="username" name="username"' in html
    assert '<label for="password">' in html
    assert 'id="password" name="password"' in html
    assert 'autocomplete="current-password"' in html
    assert len(csrf_token_of(page)) >= 32
    assert "<script" not in html
    assert "style=" not in html
    assert page.headers["cache-control"] == "no-store"


def test_successful_login_rotates_the_session_and_shows_the_account(
    app: FastAPI, client: TestClient
) -> None:
    _provisioned(app)
    client.get("/login")
    cookie_before = client.cookies["idp_session"]

    response = log_in(client, username="12345672")  # bare digits work like "1.234.567-2"

    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie_after = client.cookies["idp_session"]
    assert cookie_after != cookie_before
    account = client.get("/account")
    assert account.status_code == 200
    assert "Hola, María." in account.text
    assert "Nivel 0" in account.text

    # The pre-login cookie (which an attacker could have planted) is now worthless.
    with TestClient(app, base_url="http://127.0.0.1:8000") as other:
        other.cookies.set("idp_session", cookie_before)
        assert other.get("/account", follow_redirects=False).headers["location"] == "/login"


def test_wrong_password_and_unknown_account_get_the_same_message(
    app: FastAPI, client: TestClient
) -> None:
    _provisioned(app)
    wrong_password = log_in(client, password="not the password")
    unknown_account = log_in(client, username="9.876.543-2")
    assert wrong_password.status_code == unknown_account.status_code == 401
    message = "El número de documento o la contraseña no son correctos."
    assert message in wrong_password.text
    assert message in unknown_account.text
    assert 'href="#username"' in wrong_password.text
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login"


def test_empty_fields_get_an_error_summary_linked_to_each_field(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"csrf_token": csrf_token_of(page), "username": " ", "password": ""}
    )
    assert response.status_code == 400
    html = response.text
    assert 'role="alert"' in html
    assert '<a href="#username">Escriba su número de documento.</a>' in html
    assert '<a href="#password">Escriba su contraseña.</a>' in html
    assert html.count('aria-invalid="true"') == 2
    assert "<title>Error:" in html


def test_login_without_csrf_token_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient
) -> None:
    _provisioned(app)
    client.get("/login")
    sessions_before = _count(app, BrowserSession)

    response = client.post(
        "/login",
        data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert "No se pudo verificar el formulario" in response.text
    assert _count(app, BrowserSession) == sessions_before
    assert _count(app, LoginFailureCounter) == 0
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_login_with_another_browsers_csrf_token_is_refused(
    app: FastAPI, client: TestClient
) -> None:
    _provisioned(app)
    with TestClient(app, base_url="http://127.0.0.1:8000") as attacker:
        foreign_token = csrf_token_of(attacker.get("/login"))
    client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": foreign_token, "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login"


def test_logout_needs_the_csrf_token_and_ends_the_session(app: FastAPI, client: TestClient) -> None:
    _provisioned(app)
    log_in(client)
    account = client.get("/account")

    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/account").status_code == 200

    response = client.post(
        "/logout", data={"csrf_token": csrf_token_of(account)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?logged_out=1"
    assert "idp_session" not in client.cookies
    assert _count(app, BrowserSession) == 0
    assert "Cerró su sesión." in client.get("/login?logged_out=1").text


def test_disabled_account_is_told_so_only_with_the_right_password(
    app: FastAPI, client: TestClient
) -> None:
    from idp.storage import citizens
    from idp.storage.models import CitizenStatus

    citizen_id = _provisioned(app)
    with app.state.provider.database.transaction() as session:
        citizen = citizens.get_by_id(session, citizen_id=citizen_id)
        assert citizen is not None
        citizen.status = CitizenStatus.DISABLED

    assert log_in(client, password="wrong password").status_code == 401
    response = log_in(client)
    assert response.status_code == 403
    assert "Esta cuenta está deshabilitada." in response.text


def test_a_session_ends_after_the_idle_timeout(app: FastAPI, client: TestClient) -> None:
    _provisioned(app)
    log_in(client)
    provider = app.state.provider
    started = provider.clock()
    idle = provider.session_timeouts.idle

    provider.clock = lambda: started + idle - timedelta(seconds=5)
    assert client.get("/account").status_code == 200
    provider.clock = lambda: started + idle * 2 + timedelta(seconds=1)
    response = client.get("/account", follow_redirects=False)
    assert response.headers["location"] == "/login"


def test_a_session_ends_after_the_absolute_timeout_even_when_active(
    app: FastAPI, client: TestClient
) -> None:
    _provisioned(app)
    log_in(client)
    provider = app.state.provider
    started = provider.clock()
    step = provider.session_timeouts.idle / 2
    moment = started
    while moment + step < started + provider.session_timeouts.absolute:
        moment += step
        provider.clock = lambda at=moment: at
        assert client.get("/account").status_code == 200
    provider.clock = lambda: started + provider.session_timeouts.absolute
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login"


def test_root_sends_to_login_or_account(app: FastAPI, client: TestClient) -> None:
    _provisioned(app)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    log_in(client)
    assert client.get("/", follow_redirects=False).headers["location"] == "/account"
    assert client.get("/login", follow_redirects=False).headers["location"] == "/account"
