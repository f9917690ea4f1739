"""The eID card step-up page (``/step-up/card``): the citizen's card signs a fresh challenge.

GET shows a new challenge (bound to this browser session, ``card_challenge_ttl_seconds`` to
live) and, outside production, the command that signs it with a demo software card; POST takes
the card's answer. Each handler reads as: check CSRF -> find the signed-in citizen -> decide
(``idp.assurance.eid_card``) -> persist (elevate the session, record evidence) -> respond.
Success returns to the parked authorization request (``AUTHORIZE_CONTINUE?request_id=``) or to
the account page. Only a signed-in session steps up; others go to the login page first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from idp.accounts.continuation import (
    active_citizen,
    continue_url,
    pending_request_id,
    step_up_choices_url,
    with_request_id,
)
from idp.assurance import eid_card
from idp.assurance.methods import AuthMethod
from idp.dependencies import BrowserDep
from idp.oidc import endpoints
from idp.storage import citizens as citizen_store
from idp.web.browser import Browser
from idp.web.i18n import Translator
from idp.web.pages import FormError

logger = logging.getLogger(__name__)

router = APIRouter()

MAX_FIELD_LENGTH = 1024
RESPONSE_FIELD = "card_response"
DEMO_CARD_FILE = "var/demo-cards/{username}.p12"
"""Where `make run` puts the demo citizens' software cards (development only)."""


def _trust(browser: Browser) -> eid_card.CardTrust | None:
    try:
        return eid_card.load_trust(browser.context.settings)
    except eid_card.CardTrustError as exc:
        logger.error("eID card trust configuration unusable: %s", exc)
        return None


def _page(
    browser: Browser,
    *,
    request_id: str | None,
    status_code: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    """The page, always with a fresh challenge (also after a refused answer)."""
    context = browser.context
    settings = context.settings
    if _trust(browser) is None:
        message = Translator(browser.language)("card.error.not_configured")
        return browser.render(
            "step_up_card.html",
            status_code=503 if status_code == 200 else status_code,
            errors=errors or [FormError(message)],
            available=False,
            request_id=request_id,
            other_methods_url=step_up_choices_url(request_id),
        )
    session = browser.ensure_session()
    challenge = eid_card.issue_challenge(
        browser.db,
        browser_session_id=session.id,
        now=context.clock(),
        ttl=timedelta(seconds=settings.card_challenge_ttl_seconds),
    )
    demo_command = None
    if not settings.is_production and session.citizen_id is not None:
        citizen = citizen_store.get_by_id(browser.db, citizen_id=session.citizen_id)
        card_file = DEMO_CARD_FILE.format(username=citizen.username if citizen else "card")
        demo_command = (
            f"idp card sign --card {card_file} --challenge {challenge.challenge} "
            f"--audience {settings.issuer}"
        )
    return browser.render(
        "step_up_card.html",
        status_code=status_code,
        errors=errors,
        available=True,
        request_id=request_id,
        other_methods_url=step_up_choices_url(request_id),
        challenge=challenge.challenge,
        audience=settings.issuer,
        ttl_seconds=settings.card_challenge_ttl_seconds,
        demo_command=demo_command,
    )


@router.get(endpoints.STEP_UP_CARD)
def step_up_page(browser: BrowserDep) -> Response:
    request_id = pending_request_id(browser.request.query_params.get("request_id"))
    if active_citizen(browser) is None:
        return browser.redirect(with_request_id("/login", request_id))
    return _page(browser, request_id=request_id)


@router.post(endpoints.STEP_UP_CARD)
def submit_step_up(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    card_response: Annotated[str, Form(max_length=eid_card.MAX_RESPONSE_LENGTH * 2)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    pending = pending_request_id(request_id)
    citizen = active_citizen(browser)
    session = browser.session
    if citizen is None or session is None:
        return browser.redirect(with_request_id("/login", pending))
    translate = Translator(browser.language)
    if not card_response.strip():
        error = FormError(translate("card.error.response_required"), RESPONSE_FIELD)
        return _page(browser, request_id=pending, status_code=400, errors=[error])
    context = browser.context
    settings = context.settings
    now = context.clock()
    outcome = eid_card.verify_card_response(
        browser.db,
        response=card_response,
        browser_session_id=session.id,
        citizen=citizen,
        trust=_trust(browser),
        issuer=settings.issuer,
        default_country=settings.country,
        now=now,
    )
    if isinstance(outcome, eid_card.CardRefused):
        logger.info(
            "eID card refused for citizen %s: %s (%s)", citizen.id, outcome.code, outcome.detail
        )
        error = FormError(translate(f"card.error.{outcome.code}"), RESPONSE_FIELD)
        return _page(browser, request_id=pending, status_code=outcome.status, errors=[error])
    eid_card.record_card_evidence(browser.db, citizen=citizen, accepted=outcome, now=now)
    browser.elevate(AuthMethod.CARD)
    return browser.redirect(continue_url(pending))
