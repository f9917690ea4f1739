"""Self-registration (``/register``) and email verification (``/account/email``) pages.

Each handler reads as: check CSRF -> validate the form -> decide -> persist -> respond; a
refused form changes nothing except, for a wrong email code, the attempt counter.

An already registered document number gets one neutral sentence ("an account cannot be created
with this document number; log in or ask for help"). The document number is the username and is
printed on many papers, so hiding that the account exists would protect little, while a citizen
whose number was taken by an impostor must learn it to report it. What the page never says is
anything about the existing account (its names, email, level), and if that account has a
verified address, its owner is told by mail that someone tried to register their number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from idp.accounts.continuation import active_citizen
from idp.accounts.documents import DocumentError, normalise_document_number, parse_document
from idp.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from idp.accounts.registration import (
    MAX_NAME_LENGTH,
    AccountError,
    NewCitizen,
    create_citizen,
)
from idp.accounts.throttling import address_key
from idp.assurance.email_verification import (
    MAX_ATTEMPTS,
    CodeOutcome,
    EmailError,
    EmailVerificationRefused,
    confirm_email_code,
    normalise_email,
    pending_code,
    start_email_verification,
)
from idp.assurance.mail import MailMessage, mailer_from_settings
from idp.assurance.methods import AuthMethod
from idp.dependencies import BrowserDep
from idp.storage import citizens as citizen_store
from idp.storage import login_failures
from idp.storage.models import Citizen, OutboxMessage
from idp.web.browser import Browser
from idp.web.i18n import Translator
from idp.web.pages import FormError

router = APIRouter()

MAX_FIELD_LENGTH = 1024
NOTICE_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class RegistrationForm:
    document_number: str = ""
    given_name: str = ""
    family_name: str = ""
    birthdate: str = ""
    email: str = ""


# Validation steps of the registration form: each returns its error or None ---------------


def _check_document(form: RegistrationForm, country: str, t: Translator) -> FormError | None:
    if not form.document_number.strip():
        return FormError(t("verify.register.error.document_required"), "document_number")
    try:
        parse_document(number=form.document_number, document_type="ci", country=country)
    except DocumentError:
        digits = normalise_document_number(form.document_number)
        if digits.isdigit() and len(digits) in (7, 8) and not digits.startswith("0"):
            return FormError(t("verify.register.error.check_digit"), "document_number")
        return FormError(t("verify.register.error.document_invalid"), "document_number")
    return None


def _check_name(value: str, field: str, t: Translator) -> FormError | None:
    cleaned = " ".join(value.split())
    if not cleaned:
        return FormError(t(f"verify.register.error.{field}_required"), field)
    if len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        return FormError(t("verify.register.error.name_invalid"), field)
    return None


def _check_birthdate(form: RegistrationForm, today: date, t: Translator) -> FormError | None:
    if not form.birthdate.strip():
        return FormError(t("verify.register.error.birthdate_required"), "birthdate")
    try:
        value = date.fromisoformat(form.birthdate.strip())
    except ValueError:
        return FormError(t("verify.register.error.birthdate_invalid"), "birthdate")
    if value > today or value.year < 1880:
        return FormError(t("verify.register.error.birthdate_invalid"), "birthdate")
    return None


def _check_email(form: RegistrationForm, t: Translator) -> FormError | None:
    try:
        normalise_email(form.email)
    except EmailVerificationRefused:
        return FormError(t("verify.email.error.invalid_address"), "email")
    return None


def _check_password(password: str, confirmation: str, t: Translator) -> list[FormError]:
    if not password:
        return [FormError(t("verify.register.error.password_required"), "password")]
    if len(password) < MIN_PASSWORD_LENGTH:
        return [
            FormError(t("verify.register.error.password_short", n=MIN_PASSWORD_LENGTH), "password")
        ]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [FormError(t("verify.register.error.password_long"), "password")]
    if password != confirmation:
        return [FormError(t("verify.register.error.password_mismatch"), "password_confirmation")]
    return []


def _validate_registration(
    form: RegistrationForm,
    *,
    password: str,
    confirmation: str,
    country: str,
    today: date,
    t: Translator,
) -> list[FormError]:
    checks = [
        _check_document(form, country, t),
        _check_name(form.given_name, "given_name", t),
        _check_name(form.family_name, "family_name", t),
        _check_birthdate(form, today, t),
        _check_email(form, t),
    ]
    return [error for error in checks if error] + _check_password(password, confirmation, t)


def _notify_owner_of_attempt(browser: Browser, existing: Citizen) -> None:
    """Tell the owner of a registered number, by verified mail only, that it was tried."""
    if not existing.email or not existing.email_verified:
        return
    now = browser.context.clock()
    t = Translator(existing.preferred_language or browser.context.settings.default_language)
    subject = t("verify.mail.attempt_subject")
    already_told = browser.db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.recipient == existing.email,
            OutboxMessage.subject == subject,
            OutboxMessage.created_at > now - NOTICE_INTERVAL,
        )
    )
    if already_told:  # one notice per interval, so the form cannot be used to flood a mailbox
        return
    mailer_from_settings(browser.context.settings).send(
        browser.db,
        MailMessage(
            recipient=existing.email,
            subject=subject,
            body=t("verify.mail.attempt_body", name=existing.given_name),
        ),
        now=now,
    )


@router.get("/register")
def register_page(browser: BrowserDep) -> Response:
    if browser.signed_in:
        return browser.redirect("/account")
    return browser.render("register.html", form=RegistrationForm())


@router.post("/register")
def submit_registration(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    document_number: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    given_name: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    family_name: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    birthdate: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    email: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD_LENGTH * 2)] = "",
    password_confirmation: Annotated[str, Form(max_length=MAX_FIELD_LENGTH * 2)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    if browser.signed_in:  # one account per browser session; log out to register another
        return browser.redirect("/account")
    t = Translator(browser.language)
    settings = browser.context.settings
    now = browser.context.clock()
    form = RegistrationForm(
        document_number=document_number.strip(),
        given_name=given_name,
        family_name=family_name,
        birthdate=birthdate.strip(),
        email=email.strip(),
    )
    errors = _validate_registration(
        form,
        password=password,
        confirmation=password_confirmation,
        country=settings.country,
        today=now.date(),
        t=t,
    )
    if errors:
        return browser.render("register.html", status_code=400, errors=errors, form=form)

    retry_at = _registration_throttled(browser, now=now)
    if retry_at is not None:
        wait = max(1, int((retry_at - now).total_seconds() + 0.999))
        errors = [FormError(t("verify.register.error.throttled", minutes=(wait + 59) // 60))]
        return browser.render(
            "register.html",
            status_code=429,
            errors=errors,
            form=form,
            headers={"retry-after": str(wait)},
        )
    username = parse_document(
        number=form.document_number, document_type="ci", country=settings.country
    ).username
    existing = citizen_store.find_by_username(browser.db, username=username)
    if existing is not None:
        _notify_owner_of_attempt(browser, existing)
        return _taken(browser, form, t)
    request = NewCitizen(
        document_number=form.document_number,
        given_name=form.given_name,
        family_name=form.family_name,
        birthdate=form.birthdate,
        email=form.email,
        document_type="ci",
        document_country=settings.country,
        preferred_language=browser.language,
    )
    try:
        with browser.db.begin_nested():
            citizen = create_citizen(
                browser.db,
                request=request,
                password=password,
                hasher=browser.context.hasher,
                now=now,
                verifier="self-registration",
            )
    except IntegrityError:  # registered by a concurrent request a moment ago
        return _taken(browser, form, t)
    except AccountError:
        # Everything create_citizen checks was checked above in the citizen's language; this
        # is a safety net, not a path a form can reach.
        errors = [FormError(t("verify.register.error.generic"))]
        return browser.render("register.html", status_code=400, errors=errors, form=form)

    browser.sign_in(citizen, method=AuthMethod.PASSWORD)
    try:
        start_email_verification(
            browser.db,
            citizen=citizen,
            email=form.email,
            mailer=mailer_from_settings(settings),
            language=browser.language,
            now=now,
        )
    except EmailVerificationRefused:  # pragma: no cover - a new account has sent no codes
        return browser.redirect("/account/email")
    return browser.redirect("/account/email?sent=1")


REGISTRATIONS_PER_ADDRESS = 10
"""Registration attempts (each costs an argon2id hash and may create an account) allowed from
one client address per throttling window before a growing wait; counted in the database, so
all workers share the count."""


def _registration_throttled(browser: Browser, *, now: datetime) -> datetime | None:
    """Count this attempt under ``register:<address>``; the time to wait, or None."""
    client = browser.request.client
    key = "register:" + address_key(client.host if client else "unknown")
    blocked = login_failures.latest_block(browser.db, keys=(key,), now=now)
    if blocked is not None:
        return blocked
    address_policy = browser.context.throttling.address
    policy = replace(address_policy, threshold=REGISTRATIONS_PER_ADDRESS)
    attempts = login_failures.count_failure(browser.db, key=key, now=now, window=policy.window)
    delay = policy.delay_after(attempts)  # from the threshold on, the next attempts wait
    if delay:
        login_failures.block_until(browser.db, key=key, until=now + delay)
    return None


def _taken(browser: Browser, form: RegistrationForm, t: Translator) -> Response:
    errors = [FormError(t("verify.register.error.taken"), "document_number")]
    return browser.render("register.html", status_code=409, errors=errors, form=form)


# Email verification --------------------------------------------------------------------------


def _email_page(
    browser: Browser,
    citizen: Citizen,
    *,
    status_code: int = 200,
    errors: list[FormError] | None = None,
    notice: str | None = None,
    email: str | None = None,
) -> Response:
    now = browser.context.clock()
    pending = pending_code(browser.db, citizen=citizen)
    waiting_for = pending.email if pending and pending.expires_at > now else None
    if waiting_for and pending and pending.attempts >= MAX_ATTEMPTS:
        waiting_for = None
    return browser.render(
        "account_email.html",
        status_code=status_code,
        errors=errors,
        citizen=citizen,
        notice=notice,
        pending_email=waiting_for,
        email=email if email is not None else (citizen.email or ""),
    )


@router.get("/account/email")
def email_page(browser: BrowserDep) -> Response:
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect("/login")
    params = browser.request.query_params
    t = Translator(browser.language)
    notice = None
    if params.get("sent") == "1":
        notice = t("verify.email.sent")
    elif params.get("confirmed") == "1":
        notice = t("verify.email.confirmed")
    return _email_page(browser, citizen, notice=notice)


@router.post("/account/email")
def request_email_code(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    email: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect("/login")
    t = Translator(browser.language)
    try:
        start_email_verification(
            browser.db,
            citizen=citizen,
            email=email,
            mailer=mailer_from_settings(browser.context.settings),
            language=browser.language,
            now=browser.context.clock(),
        )
    except EmailVerificationRefused as exc:
        field = "email" if exc.reason is EmailError.INVALID_ADDRESS else None
        status = 400 if exc.reason is EmailError.INVALID_ADDRESS else 429
        errors = [FormError(t(f"verify.email.error.{exc.reason.value}"), field)]
        return _email_page(browser, citizen, status_code=status, errors=errors, email=email.strip())
    return browser.redirect("/account/email?sent=1")


CODE_ERROR_STATUS = {
    CodeOutcome.MALFORMED: 400,
    CodeOutcome.WRONG_CODE: 400,
    CodeOutcome.NO_CODE: 400,
    CodeOutcome.EXPIRED: 400,
    CodeOutcome.TOO_MANY_ATTEMPTS: 429,
}


@router.post("/account/email/confirm")
def confirm_email(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    code: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect("/login")
    t = Translator(browser.language)
    check = confirm_email_code(browser.db, citizen=citizen, code=code, now=browser.context.clock())
    if check.outcome is CodeOutcome.CONFIRMED:
        return browser.redirect("/account/email?confirmed=1")
    if check.outcome is CodeOutcome.WRONG_CODE:
        message = t("verify.email.error.wrong_code", n=check.attempts_left)
    else:
        message = t(f"verify.email.error.{check.outcome.value}")
    field = "code" if check.outcome in (CodeOutcome.MALFORMED, CodeOutcome.WRONG_CODE) else None
    return _email_page(
        browser,
        citizen,
        status_code=CODE_ERROR_STATUS[check.outcome],
        errors=[FormError(message, field)],
    )
