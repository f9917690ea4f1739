"""The portal's login, step-up and logout in a real browser, through the provider's pages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.browser.pages import authorize, code_at, enrol_totp, log_in_on_provider
from tests.helpers import add_citizen
from tests.relying_party_demo.conftest import LEVEL_1_USERNAME, LEVEL_2_USERNAME, LiveDemo

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Chromium applies CSP ``form-action`` to the redirects that follow a form submission: the
# provider's pages all say ``form-action 'self'``, so the 303 from POST /consent to the
# client's redirect URI is blocked ("Sending form data to '/consent' violates ... form-action
# 'self'") and the citizen stays on the consent page. The pages whose forms can end at a
# client (consent, login and step-up with a pending request, logout confirmation) need
# ``form-action 'self' <client origin>``. Strict: these fail loudly once that is fixed.


def test_login_from_the_portal_shows_the_name_and_the_level_then_logout_ends_both(
    page: Page, live: LiveDemo
) -> None:
    page.goto(f"{live.portal}/")
    page.get_by_role("link", name="Ingresar con identidad digital").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.issuer)}/login\?"))
    assert page.get_by_role("heading", level=1).inner_text() == "Ingresar con su identidad digital"

    log_in_on_provider(page, LEVEL_1_USERNAME)
    assert page.url.startswith(f"{live.issuer}/consent?")
    assert "Portal de trámites (demostración)" in page.locator("main").inner_text()
    authorize(page)

    page.wait_for_url(f"{live.portal}/perfil")
    main = page.locator("main").inner_text()
    assert "Juan" in main
    assert "urn:iduruguay:nid:1" in main
    assert "datos de contacto comprobados" in main  # the acr in plain language

    # RP-initiated logout: the portal sends the browser to the provider's end_session
    # endpoint with its ID token, and the provider sends it back.
    page.get_by_role("button", name="Cerrar sesión").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/\?state="))
    signed_out = page.locator("main").inner_text()
    assert "Cerraste la sesión en este portal y en el proveedor" in signed_out
    page.goto(f"{live.portal}/perfil")
    assert "Necesitas ingresar" in page.locator("main").inner_text()
    page.goto(f"{live.issuer}/account")
    assert page.url.startswith(f"{live.issuer}/login")  # the provider's session is gone too


def test_a_level_2_citizen_steps_up_with_the_authenticator_app(page: Page, live: LiveDemo) -> None:
    provider = live.provider_app.state.provider
    ana = add_citizen(
        provider.database,
        provider.hasher,
        username=LEVEL_2_USERNAME,
        given_name="Ana",
        verification_level=2,
    )
    secret = enrol_totp(live, ana)

    page.goto(f"{live.portal}/tramite")
    page.get_by_role("button", name="Ingresar con nivel 2").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.issuer)}/login\?"))
    log_in_on_provider(page, LEVEL_2_USERNAME)

    assert page.url.startswith(f"{live.issuer}/step-up/totp?")
    page.get_by_label("Código de 6 números").fill(code_at(secret, provider.clock()))
    with page.expect_navigation():
        page.get_by_role("button", name="Continuar", exact=True).click()
    authorize(page)

    page.wait_for_url(f"{live.portal}/tramite")
    assert "Puedes hacer este trámite" in page.locator("main").inner_text()
    page.goto(f"{live.portal}/perfil")
    assert "urn:iduruguay:nid:2" in page.locator("main").inner_text()


def test_a_level_1_citizen_asking_for_level_2_is_told_how_and_comes_back(
    page: Page, live: LiveDemo
) -> None:
    page.goto(f"{live.portal}/tramite")
    page.get_by_role("button", name="Ingresar con nivel 2").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.issuer)}/login\?"))
    log_in_on_provider(page, LEVEL_1_USERNAME)

    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "Este servicio pide un nivel de identidad más alto"
    page.get_by_role("link", name=re.compile("Volver a")).click()

    page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/tramite"))
    main = page.locator("main").inner_text()
    assert "El ingreso no se completó" in main
    assert "unmet_authentication_requirements" in main


def test_the_step_up_page_keeps_the_language_the_portal_asked_for(
    page: Page, live: LiveDemo
) -> None:
    provider = live.provider_app.state.provider
    ana = add_citizen(
        provider.database,
        provider.hasher,
        username=LEVEL_2_USERNAME,
        given_name="Ana",
        verification_level=2,
    )
    enrol_totp(live, ana)
    page.goto(f"{live.portal}/tramite?lang=pt")
    page.get_by_role("button", name="Entrar com nível 2").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.issuer)}/login\?.*ui_locales=pt"))
    assert page.evaluate("document.documentElement.lang") == "pt"
    log_in_on_provider(page, LEVEL_2_USERNAME)
    assert page.url.startswith(f"{live.issuer}/step-up/totp?")
    assert page.evaluate("document.documentElement.lang") == "pt"
