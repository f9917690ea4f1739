"""What a citizen does in the browser, and what the tests check on each page: axe-core scans,
logins, a confirmed authenticator app written straight into the provider's database."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from idp.assurance import totp
from tests.relying_party_demo.conftest import PASSWORD, LiveDemo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe-core's tags; 2.2 has no new level A rule in axe).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = ["es", "pt", "en"]
VIEWPORT = {"width": 1280, "height": 800}


@contextlib.contextmanager
def open_page(browser: Browser) -> Iterator[Page]:
    """A tab in a fresh browser profile (no cookies) with a Spanish-speaking citizen's
    settings, 1280x800."""
    context = browser.new_context(viewport=VIEWPORT, locale="es-UY")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def axe_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """Run axe-core inside the page. ``page.evaluate`` goes through the DevTools protocol, so
    the provider's Content-Security-Policy (no scripts at all) does not stop it."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        """tags => axe.run(document, {
          runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']
        })""",
        WCAG_TAGS,
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [json.dumps(node["target"]) for node in violation["nodes"]]
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"at {', '.join(targets)}"
        )
    return "\n".join(lines)


def log_in_on_provider(page: Page, username: str, *, password: str = PASSWORD) -> None:
    """Fill the provider's login form (in any language) and submit it."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("form[action='/login'] button[type=submit]").click()


def authorize(page: Page) -> None:
    """Press "Autorizar" (or its translation) on the provider's consent page."""
    with page.expect_navigation():
        page.locator("button[name=decision][value=allow]").click()


def code_at(secret: bytes, when: datetime) -> str:
    """What the citizen's authenticator app shows at ``when``."""
    return TOTP(secret, 6, SHA1(), 30).generate(when.timestamp()).decode()  # noqa: S303


def enrol_totp(live: LiveDemo, citizen_id: int) -> bytes:
    """A confirmed authenticator app (confirmed an hour ago), as the enrolment pages leave it;
    returns its secret."""
    provider = live.provider_app.state.provider
    keys = totp.SecondFactorKeys.from_settings(provider.settings)
    earlier = provider.clock() - timedelta(hours=1)
    with provider.database.transaction() as session:
        started = totp.start_enrolment(session, citizen_id=citizen_id, keys=keys, now=earlier)
        assert isinstance(started, totp.EnrolmentStarted)
        confirmed = totp.confirm_enrolment(
            session,
            citizen_id=citizen_id,
            code=code_at(started.secret, earlier),
            keys=keys,
            policy=provider.throttling.account,
            now=earlier,
        )
    assert isinstance(confirmed, totp.EnrolmentConfirmed)
    return started.secret
