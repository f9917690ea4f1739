"""Authorization endpoint, its continuation after login, and the consent page.

Flow: validate the request -> decide whether the citizen must (re)authenticate or consent ->
park the request (bound to this browser's session) while they do -> issue the code ->
answer in the requested response mode, always with ``iss`` (RFC 9207).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import Response

from idp.dependencies import BrowserDep
from idp.errors import (
    AccessDenied,
    ConsentRequired,
    InvalidRequest,
    LoginRequired,
    ProviderError,
)
from idp.oidc import endpoints
from idp.oidc.authorize import (
    AuthorizationPageError,
    AuthorizationRedirect,
    ValidatedRequest,
    error_parameters,
    redirect_with,
    single_valued,
    validate_request,
)
from idp.oidc.claims import subject_for
from idp.oidc.codes import issue_code
from idp.oidc.jose import TokenInvalid, verify
from idp.storage import authorization as pending_store
from idp.storage import citizens as citizen_store
from idp.storage import clients as client_store
from idp.storage.models import AuthorizationRequest, Citizen, CitizenStatus, OAuthClient
from idp.web.browser import Browser
from idp.web.i18n import Translator
from idp.web.security_headers import form_post_policy

router = APIRouter()

SCOPE_DESCRIPTIONS = ("profile", "email", "phone", "address", "document", "offline_access")


async def authorization_parameters(request: Request) -> list[tuple[str, str]]:
    """GET query or POST form parameters (OIDC Core 3.1.2.1 allows both)."""
    if request.method == "POST":
        form = await request.form()
        return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return list(request.query_params.multi_items())


ParametersDep = Annotated[list[tuple[str, str]], Depends(authorization_parameters)]


# --- responses --------------------------------------------------------------------------------


def _respond(
    browser: Browser, *, redirect_uri: str, response_mode: str, parameters: dict[str, str]
) -> Response:
    if response_mode == "form_post":
        parts = urlsplit(redirect_uri)
        client_name = parameters.pop("_client_name", "")
        response = browser.render(
            "form_post.html",
            with_csrf=False,
            action=redirect_uri,
            fields=parameters,
            client_name=client_name,
        )
        response.headers["content-security-policy"] = form_post_policy(
            f"{parts.scheme}://{parts.netloc}"
        )
        return response
    parameters.pop("_client_name", None)
    return browser.redirect(redirect_with(redirect_uri, parameters))


def _error_response(browser: Browser, redirect: AuthorizationRedirect) -> Response:
    parameters = error_parameters(
        redirect.error, state=redirect.state, issuer=browser.context.settings.issuer
    )
    return _respond(
        browser,
        redirect_uri=redirect.redirect_uri,
        response_mode=redirect.response_mode,
        parameters=parameters,
    )


def _refuse(request: ValidatedRequest, error: ProviderError) -> AuthorizationRedirect:
    return AuthorizationRedirect(
        error,
        redirect_uri=request.redirect_uri,
        state=request.state,
        response_mode=request.response_mode,
    )


# --- decisions --------------------------------------------------------------------------------


def _signed_in_citizen(browser: Browser) -> Citizen | None:
    session = browser.session
    if session is None or session.citizen_id is None:
        return None
    citizen = citizen_store.get_by_id(browser.db, citizen_id=session.citizen_id)
    if citizen is None or citizen.status != CitizenStatus.ACTIVE:
        return None
    return citizen


def _hinted_subject(browser: Browser, request: ValidatedRequest) -> str | None:
    """OIDC Core 3.1.2.1 id_token_hint: one of our ID tokens (expired ones too) for this
    client."""
    if not request.id_token_hint:
        return None
    settings = browser.context.settings
    try:
        token = verify(
            request.id_token_hint,
            keyring=browser.context.keyring,
            typ="JWT",
            issuer=settings.issuer,
            audience=None,
            leeway=settings.clock_skew_seconds,
            verify_exp=False,
        )
    except TokenInvalid as exc:
        raise _refuse(request, InvalidRequest("The id_token_hint is not valid.")) from exc
    audience = token.claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    subject = token.claims.get("sub")
    if request.client_id not in audiences or not isinstance(subject, str):
        raise _refuse(request, InvalidRequest("The id_token_hint was not issued to this client."))
    return subject


def _login_is_stale(browser: Browser, request: ValidatedRequest, now: datetime) -> bool:
    session = browser.session
    authenticated_at = session.authenticated_at if session else None
    if authenticated_at is None:
        return True
    if request.max_age is None:
        return False
    return request.max_age == 0 or now - authenticated_at > timedelta(seconds=request.max_age)


def _park(
    browser: Browser, request: ValidatedRequest, *, not_before: datetime | None, now: datetime
) -> AuthorizationRequest:
    settings = browser.context.settings
    row = AuthorizationRequest(
        id=secrets.token_urlsafe(32),
        browser_session_id=browser.ensure_session().id,
        client_id=request.client_id,
        parameters={
            "request": request.to_json(),
            "not_before": not_before.isoformat() if not_before else None,
        },
        created_at=now,
        expires_at=now + timedelta(seconds=settings.authorization_request_ttl_seconds),
    )
    pending_store.add_request(browser.db, request=row)
    return row


def _login_url(row: AuthorizationRequest, request: ValidatedRequest) -> str:
    query = {"request_id": row.id}
    if request.ui_locales:
        query["ui_locales"] = request.ui_locales
    if request.login_hint:
        query["login_hint"] = request.login_hint
    return f"/login?{urlencode(query)}"


def _consent_covers(browser: Browser, citizen: Citizen, request: ValidatedRequest) -> bool:
    consent = pending_store.find_consent(
        browser.db, citizen_id=citizen.id, client_id=request.client_id
    )
    if consent is None or consent.withdrawn_at is not None:
        return False
    return set(request.scopes) <= set(consent.scopes) and set(request.claim_names()) <= set(
        consent.claims
    )


def _issue(
    browser: Browser,
    request: ValidatedRequest,
    citizen: Citizen,
    client: OAuthClient,
    now: datetime,
) -> Response:
    settings = browser.context.settings
    session = browser.session
    assert session is not None
    code = issue_code(
        browser.db,
        request=request,
        browser_session=session,
        citizen_id=citizen.id,
        scopes=request.scopes,
        now=now,
        code_ttl=timedelta(seconds=settings.authorization_code_ttl_seconds),
        grant_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    parameters = {"code": code}
    if request.state is not None:
        parameters["state"] = request.state
    parameters["iss"] = settings.issuer
    parameters["_client_name"] = client.client_name
    return _respond(
        browser,
        redirect_uri=request.redirect_uri,
        response_mode=request.response_mode,
        parameters=parameters,
    )


def _after_authentication(
    browser: Browser,
    request: ValidatedRequest,
    citizen: Citizen,
    client: OAuthClient,
    pending: AuthorizationRequest | None,
    now: datetime,
) -> Response:
    if "consent" in request.prompt or not _consent_covers(browser, citizen, request):
        if "none" in request.prompt:
            raise _refuse(request, ConsentRequired("The citizen has not consented yet."))
        row = pending or _park(browser, request, not_before=None, now=now)
        return browser.redirect(f"{endpoints.CONSENT}?{urlencode({'request_id': row.id})}")
    if pending is not None:
        pending_store.delete_request(browser.db, request=pending)
    return _issue(browser, request, citizen, client, now)


# --- routes -----------------------------------------------------------------------------------


@router.api_route(endpoints.AUTHORIZE, methods=["GET", "POST"])
def authorize(parameters: ParametersDep, browser: BrowserDep) -> Response:
    values, repeated = single_valued(parameters)
    client = client_store.get_client(browser.db, client_id=values.get("client_id", ""))
    now = browser.context.clock()
    try:
        request = validate_request(values, repeated, client)
        assert client is not None
        hinted = _hinted_subject(browser, request)
        citizen = _signed_in_citizen(browser)
        forced = "login" in request.prompt or "select_account" in request.prompt
        if citizen is not None and hinted is not None:
            settings = browser.context.settings
            current = subject_for(
                citizen=citizen,
                subject_type=client.subject_type,
                sector=client.sector_identifier,
                salt=settings.pairwise_salt_bytes(),
            )
            forced = forced or current != hinted
        if citizen is None or forced or _login_is_stale(browser, request, now):
            if "none" in request.prompt:
                raise _refuse(request, LoginRequired("The citizen must log in."))
            not_before = now if citizen is not None else None
            row = _park(browser, request, not_before=not_before, now=now)
            return browser.redirect(_login_url(row, request))
        return _after_authentication(browser, request, citizen, client, None, now)
    except AuthorizationRedirect as redirect:
        return _error_response(browser, redirect)


def _load_pending(
    browser: Browser, request_id: str, now: datetime
) -> tuple[AuthorizationRequest, ValidatedRequest, OAuthClient]:
    row = pending_store.get_request(browser.db, request_id=request_id)
    session = browser.session
    if row is None or session is None or row.browser_session_id != session.id:
        raise AuthorizationPageError("This login request is unknown or belongs to another browser.")
    if row.expires_at <= now:
        raise AuthorizationPageError("This login request has expired; start again at the service.")
    client = client_store.get_client(browser.db, client_id=row.client_id)
    if client is None:
        raise AuthorizationPageError("The client is no longer registered.")
    return row, ValidatedRequest.from_json(row.parameters["request"]), client


def _fresh_enough(browser: Browser, row: AuthorizationRequest) -> bool:
    not_before = row.parameters.get("not_before")
    session = browser.session
    if session is None or session.authenticated_at is None:
        return False
    return not_before is None or session.authenticated_at >= datetime.fromisoformat(not_before)


@router.get(endpoints.AUTHORIZE_CONTINUE)
def continue_authorization(request_id: str, browser: BrowserDep) -> Response:
    now = browser.context.clock()
    row, request, client = _load_pending(browser, request_id, now)
    citizen = _signed_in_citizen(browser)
    if citizen is None or not _fresh_enough(browser, row):
        return browser.redirect(_login_url(row, request))
    try:
        return _after_authentication(browser, request, citizen, client, row, now)
    except AuthorizationRedirect as redirect:
        return _error_response(browser, redirect)


def _consent_context(
    browser: Browser, request: ValidatedRequest, client: OAuthClient
) -> dict[str, Any]:
    translate = Translator(browser.language)
    items = [
        translate(f"consent.scope.{scope}")
        for scope in request.scopes
        if scope in SCOPE_DESCRIPTIONS
    ]
    extra = request.claim_names()
    return {"client_name": client.client_name, "items": items, "extra_claims": extra}


@router.get(endpoints.CONSENT)
def consent_page(request_id: str, browser: BrowserDep) -> Response:
    now = browser.context.clock()
    row, request, client = _load_pending(browser, request_id, now)
    if _signed_in_citizen(browser) is None or not _fresh_enough(browser, row):
        return browser.redirect(_login_url(row, request))
    return browser.render(
        "consent.html", request_id=row.id, **_consent_context(browser, request, client)
    )


@router.post(endpoints.CONSENT)
def submit_consent(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=1024)] = "",
    request_id: Annotated[str, Form(max_length=128)] = "",
    decision: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    now = browser.context.clock()
    row, request, client = _load_pending(browser, request_id, now)
    citizen = _signed_in_citizen(browser)
    if citizen is None or not _fresh_enough(browser, row):
        return browser.redirect(_login_url(row, request))
    if decision not in ("allow", "deny"):
        raise AuthorizationPageError("Choose to allow or to deny.")
    pending_store.delete_request(browser.db, request=row)
    if decision == "deny":
        return _error_response(
            browser, _refuse(request, AccessDenied("The citizen did not consent."))
        )
    pending_store.record_consent(
        browser.db,
        citizen_id=citizen.id,
        client_id=client.client_id,
        scopes=request.scopes,
        claims=request.claim_names(),
        now=now,
    )
    return _issue(browser, request, citizen, client, now)
