"""The portal on its own (no provider running): pages that need no login, and a provider that
cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from relying_party_demo.app import create_app, parse_level
from relying_party_demo.keys import ClientKey
from tests.relying_party_demo.conftest import portal_settings
from tests.support.live_server import free_port


@pytest.fixture
def portal(tmp_path: Path, client_key: ClientKey) -> Iterator[TestClient]:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = portal_settings(tmp_path, issuer=closed)
    with TestClient(create_app(settings, client_key=client_key)) as client:
        yield client


def test_the_home_page_invites_to_log_in(portal: TestClient) -> None:
    page = portal.get("/")
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert '<a class="button" href="/login">Ingresar con identidad digital</a>' in page.text
    assert '<main id="main"' in page.text
    assert 'href="#main"' in page.text  # skip link
    assert "<script" not in page.text


def test_an_unreachable_provider_is_a_clear_page(portal: TestClient) -> None:
    page = portal.get("/login?level=2", follow_redirects=False)
    assert page.status_code == 503
    assert "El proveedor de identidad no responde" in page.text
    assert "Traceback" not in page.text


def test_the_procedure_asks_for_level_2_when_signed_out(portal: TestClient) -> None:
    page = portal.get("/tramite")
    assert 'name="level" value="2"' in page.text
    assert "Ingresar con nivel 2" in page.text


def test_pages_that_need_a_login_say_so(portal: TestClient) -> None:
    assert "Necesitas ingresar" in portal.get("/perfil").text
    assert "No tienes una sesión abierta" in portal.get("/logout").text
    logout = portal.post("/logout", follow_redirects=False)
    assert logout.status_code == 303
    assert logout.headers["location"] == "/"


def test_a_level_that_is_not_one_asks_for_none() -> None:
    assert parse_level("2") == 2
    assert parse_level("9") is None
    assert parse_level("-1") is None
    assert parse_level("x") is None
    assert parse_level(None) is None


def test_signing_needs_a_login(portal: TestClient) -> None:
    page = portal.get("/firma")
    assert "Necesitas ingresar" in page.text
    assert 'href="/login?next=/firma"' in page.text
    assert "inicia sesión" not in page.text
    assert "Para firmar una declaración jurada, ingresa primero" in page.text
    start = portal.post("/firma", data={"signature_format": "cades"}, follow_redirects=False)
    assert start.headers["location"] == "/firma"
    back = portal.get("/firma/vuelta?request_id=sig.x&state=y")
    assert back.status_code == 400
    assert "No pudimos completar la firma" in back.text
    assert "Necesitas ingresar" in portal.get("/firma/resultado").text
    for path in ("/firma/documento", "/firma/archivo-firma"):
        assert portal.get(path, follow_redirects=False).headers["location"] == "/firma"
