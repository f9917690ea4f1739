"""Login, account and logout pages (server-rendered, no JavaScript needed).

Each handler reads as: check CSRF -> validate the form -> decide -> persist -> respond.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from idp.accounts import login
from idp.accounts.continuation import active_citizen, continue_url, pending_request_id
from idp.assurance.methods import AuthMethod
from idp.assurance.totp import has_confirmed_totp
from idp.dependencies import BrowserDep
from idp.federation.crossborder import flow as crossborder
from idp.ops.metrics import count_login
from idp.storage import citizens as citizen_store
from idp.web.browser import Browser
from idp.web.i18n import Translator
from idp.web.pages import FormError

router = APIRouter()

MAX_FIELD_LENGTH = 1024
MAX_HINT_LENGTH = 64


def _wait_text(translate: Translator, *, retry_at: datetime, now: datetime) -> str:
    seconds = max(1, int((retry_at - now).total_seconds() + 0.999))
    if seconds < 120:
        return translate("duration.seconds", n=seconds)
    return translate("duration.minutes", n=(seconds + 59) // 60)


def _client_address(browser: Browser) -> str:
    client = browser.request.client
    return client.host if client else "unknown"


def _login_page(browser: Browser, *, request_id: str | None, **context: object) -> Response:
    """The login form, with "log in with the identity of another country" when a portal's
    request is waiting and the federation has peers."""
    return browser.render(
        "login.html",
        request_id=request_id,
        foreign_providers=crossborder.login_choices(browser, request_id),
        crossborder_action=crossborder.START_PATH,
        **context,  # type: ignore[arg-type]
    )


@router.get("/")
def home(browser: BrowserDep) -> Response:
    return browser.redirect("/account" if browser.signed_in else "/login")


@router.get("/login")
def login_page(browser: BrowserDep) -> Response:
    """The login form. With ``request_id`` (sent here by the authorize endpoint) it is shown
    even to a signed-in citizen, because the request asked for a new login (``prompt=login``,
    ``max_age``), and the login hint pre-fills the document number."""
    params = browser.request.query_params
    request_id = pending_request_id(params.get("request_id"))
    if browser.signed_in and request_id is None:
        return browser.redirect("/account")
    notice = None
    if params.get("logged_out") == "1":
        notice = Translator(browser.language)("login.logged_out")
    login_hint = (params.get("login_hint") or "")[:MAX_HINT_LENGTH]
    return _login_page(browser, username=login_hint, notice=notice, request_id=request_id)


@router.post("/login")
def submit_login(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    username: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    translate = Translator(browser.language)
    username = username.strip()
    pending = pending_request_id(request_id)

    errors: list[FormError] = []
    if not username:
        errors.append(FormError(translate("login.error.username_required"), "username"))
    if not password:
        errors.append(FormError(translate("login.error.password_required"), "password"))
    if errors:
        return _login_page(
            browser, status_code=400, errors=errors, username=username, request_id=pending
        )

    context = browser.context
    now = context.clock()
    outcome = login.authenticate_with_password(
        browser.db,
        username=username,
        password=password,
        client_address=_client_address(browser),
        hasher=context.hasher,
        throttling=context.throttling,
        now=now,
    )
    count_login(browser.request, outcome)
    match outcome:
        case login.LoginSucceeded(citizen=citizen):
            browser.sign_in(citizen, method=AuthMethod.PASSWORD)
            return browser.redirect(continue_url(pending))
        case login.LoginThrottled(retry_at=retry_at):
            message = translate(
                "login.error.throttled",
                wait=_wait_text(translate, retry_at=retry_at, now=now),
                time=retry_at.strftime("%H:%M:%S"),
            )
            retry_after = str(max(1, int((retry_at - now).total_seconds() + 0.999)))
            return _login_page(
                browser,
                status_code=429,
                errors=[FormError(message)],
                headers={"retry-after": retry_after},
                username=username,
                request_id=pending,
            )
        case login.AccountDisabled():
            message = translate("login.error.disabled")
            return _login_page(
                browser,
                status_code=403,
                errors=[FormError(message)],
                username=username,
                request_id=pending,
            )
        case _:
            message = translate("login.error.invalid_credentials")
            return _login_page(
                browser,
                status_code=401,
                errors=[FormError(message, "username")],
                username=username,
                request_id=pending,
            )


@router.get("/account")
def account_page(browser: BrowserDep) -> Response:
    citizen = active_citizen(browser)
    if citizen is None or browser.session is None:
        return browser.redirect("/login")
    session = browser.session
    level = citizen_store.verification_level(browser.db, citizen_id=citizen.id)
    return browser.render(
        "account.html",
        citizen=citizen,
        signed_in_at=session.authenticated_at,
        verification_level=level,
        totp_enrolled=has_confirmed_totp(browser.db, citizen_id=citizen.id),
    )


@router.post("/logout")
def logout(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    browser.sign_out()
    return browser.redirect("/login?logged_out=1")
