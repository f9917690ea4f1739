"""axe-core on the pages of a cross-border login, in Spanish, Portuguese and English: the login
page with the foreign providers, the consent page after the peer's answer, and the refusal
page (zero violations of the WCAG 2.0-2.2 A and AA rules).

The provider runs on a real uvicorn server trusting Brazil's provider through the in-memory
federation of ``tests.crossborder_login``; the browser's trip to Brazil's authorization
endpoint is answered by the test (it only needs the Request Object the provider sent)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from idp.config import Settings
from tests.browser.pages import LANGUAGES, open_page
from tests.browser.test_accessibility import Scans
from tests.crossborder_login.conftest import (
    PORTAL_REDIRECT_URI,
    PeerTokenEndpoint,
    World,
    build_world,
)
from tests.federation_crossborder.kit import B
from tests.support.live_server import free_port, serve_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def choose_brazil(page: Page, world: World, language: str) -> None:
    """The portal sends the citizen to the provider's login page."""
    query = {
        "response_type": "code",
        "client_id": world.portal_id,
        "redirect_uri": PORTAL_REDIRECT_URI,
        "scope": "openid profile",
        "state": "portal-state",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "ui_locales": language,
    }
    page.goto(f"{world.issuer}/authorize?{urlencode(query)}")
    page.wait_for_url("**/login?**")


def press_brazil(page: Page, world: World) -> dict[str, Any]:
    """Submit the page's "Brazil" form with the browser's cookies, without following the
    redirect to Brazil (not reachable from here); the Request Object it carries."""
    form = page.locator("form[action='/federation/start']").first
    fields = {
        name: form.locator(f"input[name={name}]").get_attribute("value") or ""
        for name in ("csrf_token", "request_id", "peer")
    }
    answer = page.request.post(f"{world.issuer}/federation/start", form=fields, max_redirects=0)
    assert answer.status == 303, answer.text()
    location = answer.headers["location"]
    assert location.startswith(f"{B}/authorize?")
    request_object = parse_qs(urlsplit(location).query)["request"][0]
    return jwt.decode(request_object, options={"verify_signature": False})


def test_the_cross_border_pages_meet_wcag_a_and_aa(
    chromium: Browser,
    axe_source: str,
    settings_factory: Callable[..., Settings],
    sqlite_database_url: str,
) -> None:
    endpoint = PeerTokenEndpoint()
    port = free_port()
    failures: list[str] = []
    with (
        serve_app(endpoint.app()) as peer_url,
        build_world(
            settings_factory,
            sqlite_database_url,
            endpoint,
            f"{peer_url}/token",
            issuer=f"http://127.0.0.1:{port}",
            with_browser=False,
        ) as world,
        serve_app(world.app, port=port),
    ):
        for language in LANGUAGES:
            scans = Scans(axe_source, language)
            with open_page(chromium) as page:
                choose_brazil(page, world, language)
                scans.scan(page, "login with the foreign providers")
                assert page.locator("form[action='/federation/start']").count() == 1

                world.sent = press_brazil(page, world)
                world.answer_with()
                callback = {"code": "code-from-b", "state": world.sent["state"], "iss": B}
                page.goto(f"{world.issuer}/federation/callback?{urlencode(callback)}")
                scans.scan(page, "cross-border consent")
                assert page.locator("button[name=decision][value=allow]").count() == 1

                choose_brazil(page, world, language)
                world.sent = press_brazil(page, world)
                world.answer_with(nonce="not the nonce that was sent")
                callback = {"code": "code-from-b", "state": world.sent["state"], "iss": B}
                page.goto(f"{world.issuer}/federation/callback?{urlencode(callback)}")
                scans.scan(page, "cross-border refusal")
                assert page.locator(f"a[href^='{PORTAL_REDIRECT_URI}']").count() == 1
            assert len(scans.scanned) == 3
            if scans.failures:
                failures.append(f"[{language}]\n{scans.report()}")
    if failures:
        pytest.fail("\n".join(failures))
    assert json.dumps(world.sent)  # the last login reached the peer
