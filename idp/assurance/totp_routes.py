"""Pages of the TOTP second factor: enrolment (``/account/totp``) and step-up
(``/step-up/totp``). Server-rendered, no JavaScript: the QR code is inline SVG.

Each handler reads as: check CSRF -> find the signed-in citizen -> validate the form -> decide
(``idp.assurance.totp``) -> respond. Step-up returns to the parked authorization request
(``AUTHORIZE_CONTINUE?request_id=``) or to the account page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form
from markupsafe import Markup
from starlette.responses import Response

from idp.accounts.continuation import (
    active_citizen,
    continue_url,
    pending_request_id,
    with_request_id,
)
from idp.assurance import totp
from idp.assurance.methods import TWO_FACTOR_STRENGTH, AuthMethod, session_strength
from idp.dependencies import BrowserDep
from idp.oidc import endpoints
from idp.storage.models import Citizen
from idp.web.browser import Browser
from idp.web.i18n import Translator
from idp.web.pages import FormError

router = APIRouter()

ENROL_PATH = "/account/totp"
MAX_FIELD_LENGTH = 1024
CODE_FIELD = "code"
RECOVERY_FIELD = "recovery_code"


# Small named steps ---------------------------------------------------------------------------
def _has_two_factors_now(browser: Browser) -> bool:
    session = browser.session
    if session is None:
        return False
    lifetime = timedelta(seconds=browser.context.settings.step_up_lifetime_seconds)
    strength = session_strength(
        session.auth_methods, now=browser.context.clock(), step_up_lifetime=lifetime
    )
    return strength >= TWO_FACTOR_STRENGTH


def _seconds_until(retry_at: datetime, now: datetime) -> int:
    return max(1, int((retry_at - now).total_seconds() + 0.999))


def _wait_text(translate: Translator, *, retry_at: datetime, now: datetime) -> str:
    seconds = _seconds_until(retry_at, now)
    if seconds < 120:
        return translate("duration.seconds", n=seconds)
    return translate("duration.minutes", n=(seconds + 59) // 60)


def _code_error(
    translate: Translator, value: str, *, field: str, totp_code: bool, recovery_code: bool
) -> FormError | None:
    """A form error when ``value`` is empty or has the shape of no code this form accepts."""
    if not value.strip():
        return FormError(translate("totp.error.code_required"), field)
    if totp_code and totp.totp_code_of(value) is not None:
        return None
    if recovery_code and totp.recovery_code_of(value) is not None:
        return None
    if totp_code and recovery_code:
        return FormError(translate("totp.error.code_format"), field)
    if totp_code:
        return FormError(translate("totp.error.code_format_totp"), field)
    return FormError(translate("totp.error.recovery_code_format"), field)


def _refusal(
    translate: Translator, outcome: totp.Refusal, *, field: str, now: datetime
) -> tuple[int, FormError, dict[str, str]]:
    """Status, message and headers of a refused code."""
    match outcome:
        case totp.SecondFactorThrottled(retry_at=retry_at):
            message = translate(
                "totp.error.throttled",
                wait=_wait_text(translate, retry_at=retry_at, now=now),
                time=retry_at.strftime("%H:%M:%S"),
            )
            headers = {"retry-after": str(_seconds_until(retry_at, now))}
            return 429, FormError(message, field), headers
        case totp.CodeReused():
            return 401, FormError(translate("totp.error.reused_code"), field), {}
        case totp.NoAuthenticator():
            return 409, FormError(translate("totp.error.no_authenticator")), {}
        case _:
            key = (
                "totp.error.wrong_code" if field == CODE_FIELD else "totp.error.wrong_recovery_code"
            )
            return 401, FormError(translate(key), field), {}


def _qr_svg(uri: str, *, title: str) -> Markup:
    """The provisioning URI as an inline SVG QR code (segno escapes the title)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title=title, svgclass="qr", lineclass=None
    )
    svg = svg.replace("<svg ", '<svg role="img" ', 1)  # so screen readers read the title
    return Markup(svg)  # noqa: S704 - segno's own SVG output, title escaped by segno


# Enrolment -----------------------------------------------------------------------------------
def _enrol_page(
    browser: Browser,
    citizen: Citizen,
    *,
    request_id: str | None,
    status_code: int = 200,
    errors: list[FormError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One page, three states: start (nothing yet), pending (QR code and confirm form),
    active (confirmed; replacing it needs a code)."""
    keys = totp.SecondFactorKeys.from_settings(browser.context.settings)
    credential = totp.credential_of(browser.db, citizen_id=citizen.id)
    secret = totp.pending_secret(browser.db, citizen_id=citizen.id, keys=keys)
    state: dict[str, Any] = {"state": "start"}
    if credential is not None and credential.confirmed_at is not None:
        state = {"state": "active", "confirmed_at": credential.confirmed_at}
    elif secret is not None:
        issuer = totp.issuer_label(browser.context.settings)
        account = totp.account_label(citizen)
        uri = totp.provisioning_uri(secret, issuer=issuer, account=account)
        title = Translator(browser.language)("totp.enrol.qr_title")
        state = {
            "state": "pending",
            "qr_svg": _qr_svg(uri, title=title),
            "secret_text": totp.secret_for_typing(secret),
            "issuer": issuer,
            "account": account,
        }
    return browser.render(
        "totp_enrol.html",
        status_code=status_code,
        errors=errors,
        headers=headers,
        request_id=request_id,
        **state,
    )


@router.get(ENROL_PATH)
def enrol_page(browser: BrowserDep) -> Response:
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect("/login")
    request_id = pending_request_id(browser.request.query_params.get("request_id"))
    return _enrol_page(browser, citizen, request_id=request_id)


@router.post(ENROL_PATH)
def submit_enrolment(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    action: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    code: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect("/login")
    pending = pending_request_id(request_id)
    match action:
        case "start":
            return _start(browser, citizen, request_id=pending)
        case "confirm":
            return _confirm(browser, citizen, code=code, request_id=pending)
        case "replace":
            return _replace(browser, citizen, code=code, request_id=pending)
        case _:
            return _enrol_page(browser, citizen, request_id=pending, status_code=400)


def _start(browser: Browser, citizen: Citizen, *, request_id: str | None) -> Response:
    keys = totp.SecondFactorKeys.from_settings(browser.context.settings)
    outcome = totp.start_enrolment(
        browser.db, citizen_id=citizen.id, keys=keys, now=browser.context.clock()
    )
    if isinstance(outcome, totp.AlreadyEnrolled):
        message = Translator(browser.language)("totp.error.already_enrolled")
        return _enrol_page(
            browser,
            citizen,
            request_id=request_id,
            status_code=409,
            errors=[FormError(message, CODE_FIELD)],
        )
    return browser.redirect(with_request_id(ENROL_PATH, request_id))


def _confirm(browser: Browser, citizen: Citizen, *, code: str, request_id: str | None) -> Response:
    translate = Translator(browser.language)
    error = _code_error(translate, code, field=CODE_FIELD, totp_code=True, recovery_code=False)
    if error is not None:
        return _enrol_page(browser, citizen, request_id=request_id, status_code=400, errors=[error])
    context = browser.context
    now = context.clock()
    outcome = totp.confirm_enrolment(
        browser.db,
        citizen_id=citizen.id,
        code=code,
        keys=totp.SecondFactorKeys.from_settings(context.settings),
        policy=context.throttling.account,
        now=now,
    )
    if isinstance(outcome, totp.EnrolmentConfirmed):
        browser.elevate(AuthMethod.TOTP)
        # with a parked request, back to step-up: it sees the fresh proof and continues
        after = with_request_id(endpoints.STEP_UP_TOTP, request_id) if request_id else "/account"
        return browser.render(
            "totp_recovery_codes.html", recovery_codes=outcome.recovery_codes, continue_url=after
        )
    status, form_error, headers = _refusal(translate, outcome, field=CODE_FIELD, now=now)
    return _enrol_page(
        browser,
        citizen,
        request_id=request_id,
        status_code=status,
        errors=[form_error],
        headers=headers,
    )


def _replace(browser: Browser, citizen: Citizen, *, code: str, request_id: str | None) -> Response:
    """Replacing a confirmed authenticator needs a current code or a recovery code."""
    translate = Translator(browser.language)
    error = _code_error(translate, code, field=CODE_FIELD, totp_code=True, recovery_code=True)
    if error is not None:
        return _enrol_page(browser, citizen, request_id=request_id, status_code=400, errors=[error])
    context = browser.context
    now = context.clock()
    keys = totp.SecondFactorKeys.from_settings(context.settings)
    outcome = totp.verify_second_factor(
        browser.db,
        citizen_id=citizen.id,
        code=code,
        keys=keys,
        policy=context.throttling.account,
        now=now,
    )
    if isinstance(outcome, totp.SecondFactorAccepted):
        totp.start_enrolment(browser.db, citizen_id=citizen.id, keys=keys, now=now, replace=True)
        return browser.redirect(with_request_id(ENROL_PATH, request_id))
    status, form_error, headers = _refusal(translate, outcome, field=CODE_FIELD, now=now)
    return _enrol_page(
        browser,
        citizen,
        request_id=request_id,
        status_code=status,
        errors=[form_error],
        headers=headers,
    )


# Step-up -------------------------------------------------------------------------------------
def _step_up_page(
    browser: Browser,
    citizen: Citizen,
    *,
    request_id: str | None,
    status_code: int = 200,
    errors: list[FormError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    has_authenticator = totp.has_confirmed_totp(browser.db, citizen_id=citizen.id) or (
        totp.unused_recovery_codes(browser.db, citizen_id=citizen.id) > 0
    )
    return browser.render(
        "step_up_totp.html",
        status_code=status_code,
        errors=errors,
        headers=headers,
        request_id=request_id,
        has_authenticator=has_authenticator,
        enrol_url=with_request_id(ENROL_PATH, request_id),
    )


@router.get(endpoints.STEP_UP_TOTP)
def step_up_page(browser: BrowserDep) -> Response:
    request_id = pending_request_id(browser.request.query_params.get("request_id"))
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(with_request_id("/login", request_id))
    if _has_two_factors_now(browser):
        # e.g. back from enrolment, whose first code was a TOTP proof already
        return browser.redirect(continue_url(request_id))
    return _step_up_page(browser, citizen, request_id=request_id)


@router.post(endpoints.STEP_UP_TOTP)
def submit_step_up(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    code: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    recovery_code: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    """Two forms post here: the authenticator's code (``code``) or a recovery code."""
    browser.check_csrf(csrf_token)
    pending = pending_request_id(request_id)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(with_request_id("/login", pending))
    translate = Translator(browser.language)
    uses_recovery = bool(recovery_code.strip()) and not code.strip()
    field, value = (RECOVERY_FIELD, recovery_code) if uses_recovery else (CODE_FIELD, code)
    error = _code_error(
        translate, value, field=field, totp_code=not uses_recovery, recovery_code=uses_recovery
    )
    if error is not None:
        return _step_up_page(browser, citizen, request_id=pending, status_code=400, errors=[error])
    context = browser.context
    now = context.clock()
    outcome = totp.verify_second_factor(
        browser.db,
        citizen_id=citizen.id,
        code=value,
        keys=totp.SecondFactorKeys.from_settings(context.settings),
        policy=context.throttling.account,
        now=now,
    )
    if isinstance(outcome, totp.SecondFactorAccepted):
        browser.elevate(outcome.method)
        return browser.redirect(continue_url(pending))
    status, form_error, headers = _refusal(translate, outcome, field=field, now=now)
    return _step_up_page(
        browser,
        citizen,
        request_id=pending,
        status_code=status,
        errors=[form_error],
        headers=headers,
    )
