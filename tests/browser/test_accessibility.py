"""axe-core on every page a citizen meets, in Spanish, Portuguese and English: zero violations
of the WCAG 2.0, 2.1 and 2.2 level A and AA rules.

The pages are reached the way a citizen reaches them (portal, provider login, consent,
step-up, the "higher level" page, the account pages); every violation found on the way is
reported at the end with its rule, impact, elements and help text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.pages import (
    LANGUAGES,
    authorize,
    axe_violations,
    code_at,
    describe,
    enrol_totp,
    log_in_on_provider,
    open_page,
)
from tests.helpers import add_citizen
from tests.relying_party_demo.conftest import LEVEL_1_USERNAME, LEVEL_2_USERNAME, LiveDemo
from tests.support.signer import SIGNER, signer_with_card

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


class Scans:
    """Scan pages, remember what failed where, and check the language of each page."""

    def __init__(self, axe_source: str, language: str) -> None:
        self.axe_source = axe_source
        self.language = language
        self.scanned: list[str] = []
        self.failures: dict[str, list[dict[str, Any]]] = {}

    def scan(self, page: Page, label: str) -> None:
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.lang") == self.language, (
            f"{label} ({page.url}) is not in {self.language}"
        )
        violations = axe_violations(page, self.axe_source)
        self.scanned.append(label)
        if violations:
            self.failures[f"{label} ({page.url})"] = violations

    def report(self) -> str:
        return "\n".join(
            f"{label}:\n{describe(violations)}" for label, violations in self.failures.items()
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_meets_wcag_a_and_aa(
    language: str, live: LiveDemo, chromium: Browser, axe_source: str
) -> None:
    scans = Scans(axe_source, language)
    provider = live.provider_app.state.provider

    # Pages of a citizen with level 1 (Juan), without a session first; the provider's CSP is
    # enforced (axe-core runs through the DevTools protocol, not as a page script).
    with open_page(chromium) as page:
        page.goto(f"{live.issuer}/register?lang={language}")
        scans.scan(page, "provider registration")
        page.goto(f"{live.issuer}/login?lang={language}")
        scans.scan(page, "provider login")
        log_in_on_provider(page, LEVEL_1_USERNAME, password="not the password")
        scans.scan(page, "provider login with errors")

        page.goto(f"{live.portal}/?lang={language}")
        scans.scan(page, "portal home")
        with page.expect_navigation():
            page.locator("main a[href='/login']").click()
        log_in_on_provider(page, LEVEL_1_USERNAME)
        scans.scan(page, "provider consent")
        authorize(page)
        page.wait_for_url(f"{live.portal}/perfil")
        scans.scan(page, "portal profile")
        page.goto(f"{live.portal}/tramite")
        scans.scan(page, "portal procedure, level too low")
        with page.expect_navigation():
            page.locator("main form[action='/login'] button").click()
        scans.scan(page, "provider 'higher level' page")
        with page.expect_navigation():
            page.locator(f"main a[href^='{live.portal}/']").click()
        page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/tramite"))
        scans.scan(page, "portal procedure, level not reached")

        page.goto(f"{live.issuer}/account")
        scans.scan(page, "provider account")
        page.goto(f"{live.issuer}/account/totp")
        scans.scan(page, "provider TOTP enrolment")
        with page.expect_navigation():
            page.locator("form:has(input[name=action][value=start]) button").click()
        scans.scan(page, "provider TOTP enrolment, QR code")
        page.goto(f"{live.issuer}/logout/oidc")
        scans.scan(page, "provider logout confirmation")

    # Ana (level 2, authenticator app enrolled) asks for the level-2 procedure.
    ana = add_citizen(
        provider.database,
        provider.hasher,
        username=LEVEL_2_USERNAME,
        given_name="Ana",
        verification_level=2,
    )
    secret = enrol_totp(live, ana)
    with open_page(chromium) as page:
        # The step-up pages do not follow ui_locales yet (test_portal_login.py): the citizen
        # picks the language on the provider first.
        page.goto(f"{live.issuer}/login?lang={language}")
        page.goto(f"{live.portal}/tramite?lang={language}")
        with page.expect_navigation():
            page.locator("main form[action='/login'] button").click()
        log_in_on_provider(page, LEVEL_2_USERNAME)
        scans.scan(page, "provider step-up with the authenticator app")
        right = int(code_at(secret, provider.clock()))
        page.locator("#code").fill(f"{(right + 500_000) % 1_000_000:06d}")
        with page.expect_navigation():
            page.locator("form:has(#code) button").click()
        scans.scan(page, "provider step-up with a wrong code")
        page.locator("#code").fill(code_at(secret, provider.clock()))
        with page.expect_navigation():
            page.locator("form:has(#code) button").click()
        authorize(page)
        page.wait_for_url(f"{live.portal}/tramite")
        scans.scan(page, "portal procedure, level reached")

    # Carlos (level 3, a software eID card) signs a sworn statement from the portal.
    signer = signer_with_card(provider)
    with open_page(chromium) as page:
        page.goto(f"{live.issuer}/login?lang={language}")
        page.goto(f"{live.portal}/?lang={language}")
        with page.expect_navigation():
            page.locator("main a[href='/login']").click()
        log_in_on_provider(page, SIGNER)
        authorize(page)
        page.wait_for_url(f"{live.portal}/perfil")
        page.goto(f"{live.portal}/firma")
        scans.scan(page, "portal signing page")
        with page.expect_navigation():
            page.locator("main form[action='/firma'] button[type=submit]").click()
        scans.scan(page, "provider signature approval, card needed")
        with page.expect_navigation():
            page.locator("main a.button[href^='/step-up/card']").click()
        scans.scan(page, "provider eID card step-up")
        challenge = page.locator("#challenge").inner_text()
        answer = signer.answer(challenge.strip(), audience=live.issuer, provider=provider)
        page.locator("#card_response").fill(answer)
        with page.expect_navigation():
            page.locator("form[action='/step-up/card'] button").click()
        with page.expect_navigation():
            page.locator("main a.button[href^='/account/signature']").click()
        scans.scan(page, "provider signing certificate enrolment")
        page.locator("#consent").check()
        with page.expect_navigation():
            page.locator("form[action='/account/signature/enrol'] button").click()
        scans.scan(page, "provider signature approval, ready to sign")
        with page.expect_navigation():
            page.locator("button[name=decision][value=approve]").click()
        page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/firma/resultado"))
        scans.scan(page, "portal signature result")
        page.goto(f"{live.issuer}/account/signature")
        scans.scan(page, "provider signing certificate")

    assert len(scans.scanned) == 23
    assert not scans.failures, f"WCAG A/AA violations ({language}):\n{scans.report()}"
