"""Screenshots of the main pages at 1280x800, for the README.

``make screenshots`` runs this test with ``IDP_TEST_SCREENSHOTS_DIR=docs/screenshots``; in the
normal test run the pictures go to a temporary folder, so that the walk is still checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.pages import authorize, code_at, enrol_totp, log_in_on_provider
from tests.helpers import add_citizen
from tests.relying_party_demo.conftest import LEVEL_2_USERNAME, LiveDemo

if TYPE_CHECKING:
    from playwright.sync_api import Page

FOLDER_VARIABLE = "IDP_TEST_SCREENSHOTS_DIR"
EXPECTED = [
    "portal-home.png",
    "provider-login.png",
    "provider-step-up-totp.png",
    "provider-consent.png",
    "portal-procedure.png",
    "portal-profile.png",
    "provider-account.png",
]


def test_screenshots_of_the_main_pages(page: Page, live: LiveDemo, tmp_path: Path) -> None:
    folder = Path(os.environ.get(FOLDER_VARIABLE) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(name: str) -> None:
        page.wait_for_load_state()
        page.screenshot(path=folder / name, animations="disabled", caret="hide")

    provider = live.provider_app.state.provider
    ana = add_citizen(
        provider.database,
        provider.hasher,
        username=LEVEL_2_USERNAME,
        given_name="Ana",
        verification_level=2,
    )
    secret = enrol_totp(live, ana)

    page.goto(f"{live.portal}/")
    shoot("portal-home.png")
    page.goto(f"{live.portal}/tramite")
    with page.expect_navigation():
        page.get_by_role("button", name="Ingresar con nivel 2").click()
    shoot("provider-login.png")
    log_in_on_provider(page, LEVEL_2_USERNAME)
    shoot("provider-step-up-totp.png")
    page.locator("#code").fill(code_at(secret, provider.clock()))
    with page.expect_navigation():
        page.locator("form:has(#code) button").click()
    shoot("provider-consent.png")
    authorize(page)
    page.wait_for_url(f"{live.portal}/tramite")
    shoot("portal-procedure.png")
    page.goto(f"{live.portal}/perfil")
    shoot("portal-profile.png")
    page.goto(f"{live.issuer}/account")
    shoot("provider-account.png")

    for name in EXPECTED:
        picture = (folder / name).read_bytes()
        assert picture.startswith(b"\x89PNG"), name
        width, height = int.from_bytes(picture[16:20]), int.from_bytes(picture[20:24])
        assert (width, height) == (1280, 800), name
