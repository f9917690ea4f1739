"""Every page in Spanish, Portuguese and English; the choice order ui_locales > switcher >
Accept-Language > default; the catalogs are complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.web.i18n import catalog, negotiate_language, parse_accept_language
from tests.helpers import add_citizen, log_in

LOGIN_TITLES = {
    "es": "Ingresar con su identidad digital",
    "pt": "Entrar com a sua identidade digital",
    "en": "Log in with your digital identity",
}
ACCOUNT_TITLES = {"es": "Su cuenta", "pt": "Sua conta", "en": "Your account"}
NOT_FOUND = {
    "es": "La página que busca no existe.",
    "pt": "A página que você procura não existe.",
    "en": "The page you are looking for does not exist.",
}


@pytest.mark.parametrize("language", ["es", "pt", "en"])
def test_every_page_in_every_language(app: FastAPI, client: TestClient, language: str) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    headers = {"accept-language": language, "accept": "text/html"}

    login = client.get("/login", headers=headers)
    assert f'<html lang="{language}">' in login.text
    assert LOGIN_TITLES[language] in login.text

    error = client.get("/missing", headers=headers)
    assert error.status_code == 404
    assert f'<html lang="{language}">' in error.text
    assert NOT_FOUND[language] in error.text

    client.headers.update(headers)
    assert log_in(client).status_code == 303
    account = client.get("/account")
    assert f'<html lang="{language}">' in account.text
    assert ACCOUNT_TITLES[language] in account.text

    failed = log_in(client, password="wrong password")
    assert f'<html lang="{language}">' in failed.text


def test_ui_locales_beats_the_switcher_and_the_browser(client: TestClient) -> None:
    client.cookies.set("idp_lang", "en")
    page = client.get("/login?ui_locales=pt-BR%20es", headers={"accept-language": "es"})
    assert '<html lang="pt">' in page.text


def test_switcher_choice_is_remembered_over_accept_language(client: TestClient) -> None:
    switched = client.get("/login?lang=en", headers={"accept-language": "pt"})
    assert '<html lang="en">' in switched.text
    assert any(c.startswith("idp_lang=en") for c in switched.headers.get_list("set-cookie"))
    later = client.get("/login", headers={"accept-language": "pt"})
    assert '<html lang="en">' in later.text


def test_switcher_links_keep_the_other_parameters(client: TestClient) -> None:
    page = client.get("/login?ui_locales=en&logged_out=1")
    links = re.findall(r'href="(/login\?[^"]+)" hreflang="(\w+)"', page.text)
    assert {code for _, code in links} == {"es", "pt", "en"}
    for href, code in links:
        assert "logged_out=1" in href
        assert f"lang={code}" in href
    assert 'hreflang="en" lang="en" aria-current="true"' in page.text


def test_spanish_is_the_default(client: TestClient) -> None:
    page = client.get("/login", headers={"accept-language": "fr-FR, de;q=0.8"})
    assert '<html lang="es">' in page.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.8", ["pt-BR", "pt", "en"]),
        ("en;q=0.2, es;q=0.9", ["es", "en"]),
        ("de;q=0, en", ["en"]),
        ("*, es;q=bad", ["es"][:0]),
        ("", []),
    ],
)
def test_accept_language_parsing(header: str, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def test_negotiation_order() -> None:
    assert (
        negotiate_language(ui_locales="fr en", chosen="pt", accept_language="es", default="es")
        == "en"
    )
    assert (
        negotiate_language(ui_locales="fr", chosen="pt", accept_language="en", default="es") == "pt"
    )
    assert (
        negotiate_language(ui_locales=None, chosen="xx", accept_language="en-GB", default="es")
        == "en"
    )
    assert (
        negotiate_language(ui_locales=None, chosen=None, accept_language=None, default="pt") == "pt"
    )


def _catalog(language: str) -> dict[str, str]:
    return catalog(language)


def test_catalogs_have_the_same_keys_and_no_empty_messages() -> None:
    catalogs = {language: _catalog(language) for language in ("es", "pt", "en")}
    assert set(catalogs["pt"]) == set(catalogs["es"]) == set(catalogs["en"])
    for messages in catalogs.values():
        assert all(value.strip() for value in messages.values())


def test_every_message_key_used_in_templates_and_code_exists() -> None:
    root = Path(__file__).resolve().parents[2] / "idp"
    used: set[str] = set()
    for path in [*root.rglob("*.html"), *root.rglob("*.py")]:
        used |= set(
            re.findall(
                r"""\bt(?:ranslate)?\(\s*["']([a-z_]+\.[a-z_.0-9]*[a-z_0-9])["']""",
                path.read_text("utf-8"),
            )
        )
    assert used, "no message keys found"
    missing = used - set(_catalog("es"))
    assert not missing
