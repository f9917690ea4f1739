"""The authorization code flow across the citizen's pages (OIDC Core 3.1.2, RFC 6749 4.1).

Each entry point reads as validate -> decide -> persist -> respond:

- ``start`` (the authorization endpoint): validate the request (``idp.oidc.authorize``), decide
  whether the citizen must log in (no session, ``prompt=login``/``select_account``, ``max_age``
  exceeded, ``id_token_hint`` naming someone else) and whether they must consent; park the
  request (bound to this browser's session) while they do, or issue the code at once.
- ``resume`` (after the login page): the parked request continues, with a fresh enough login.
- ``show_consent`` / ``decide_consent``: the consent page and its answer.

Responses always carry ``iss`` (RFC 9207) and go out in the requested response mode: a 303
redirect with the parameters in the query, or a form_post page (OAuth 2.0 Form Post Response
Mode) that works without JavaScript, since the Content-Security-Policy forbids scripts.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from starlette.responses import Response

from idp.assurance.methods import CARD_STRENGTH
from idp.assurance.totp import has_confirmed_totp
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.errors import (
    AccessDenied,
    ConsentRequired,
    InteractionRequired,
    InvalidRequest,
    LoginRequired,
    ProviderError,
    UnmetAuthenticationRequirements,
)
from idp.federation.registration import AutomaticRegistrations, RegistrationRefused
from idp.oidc import consent as consent_rules
from idp.oidc import endpoints
from idp.oidc.authorize import (
    AuthorizationPageError,
    AuthorizationRedirect,
    AuthorizationRequestInvalid,
    Destination,
    PendingAuthorization,
    ValidatedRequest,
    error_parameters,
    fresh_login_done,
    login_is_stale,
    plausible_client_id,
    redirect_with,
    single_valued,
    success_parameters,
    validate_request,
)
from idp.oidc.clients import redirect_uri_matches
from idp.oidc.codes import issue_code
from idp.oidc.issuance import subject_of
from idp.oidc.jose import TokenInvalid, verify
from idp.oidc.request_object import InvalidRequestObject, RequestObjectOpener
from idp.oidc.step_up import (
    Assurance,
    GateOutcome,
    Proceed,
    StepUpNeeded,
    Unmet,
    current_assurance,
    federated_login,
    gate,
    requirement_of,
)
from idp.storage import authorization as pending_store
from idp.storage import citizens as citizen_store
from idp.storage import clients as client_store
from idp.storage.models import AuthorizationRequest, Citizen, CitizenStatus, OAuthClient
from idp.web.browser import Browser
from idp.web.i18n import LANGUAGE_COOKIE, Translator, negotiate_language
from idp.web.security_headers import form_action_source, form_post_policy

logger = logging.getLogger("idp.oidc.authorize")

FORCED_LOGIN_PROMPTS = frozenset({"login", "select_account"})
"""``select_account`` shows the login form: the provider has no account chooser, and logging
in is how a citizen picks the account."""


# --- entry points -----------------------------------------------------------------------------


def start(browser: Browser, items: list[tuple[str, str]]) -> Response:
    """The authorization endpoint (OIDC Core 3.1.2.1, GET or POST)."""
    params, repeated = single_valued(items)
    now = browser.context.clock()
    client = _client(browser, params, now=now)
    opener = RequestObjectOpener(browser.db, browser.context.settings, now=now)
    try:
        request = validate_request(params, repeated, client, open_request_object=opener)
        assert client is not None
        client = _spend_and_keep(browser, opener, request, client, now=now)
        hinted_subject = _hinted_subject(browser, request, client)
        citizen = _signed_in_citizen(browser)
        if _must_log_in(browser, request, client, citizen, hinted_subject, now):
            if "none" in request.prompt:
                raise _refuse(request, client, LoginRequired("The citizen must log in."))
            pending = PendingAuthorization(request=request, login_required=True, requested_at=now)
            row = _park(browser, pending, now=now)
            return browser.redirect(_login_url(row, request))
        assert citizen is not None
        return _assure(browser, request, client, citizen, pending_row=None, now=now)
    except AuthorizationRedirect as redirect:
        return _respond_with_error(browser, redirect)


def resume(browser: Browser, request_id: str) -> Response:
    """After the login page (``endpoints.AUTHORIZE_CONTINUE``): the parked request goes on if
    the login is fresh enough, else the login form is shown again."""
    now = browser.context.clock()
    row, pending, client = _load_pending(browser, request_id, now=now)
    citizen = _signed_in_citizen(browser)
    if citizen is None or not _login_fresh(browser, pending):
        return browser.redirect(_login_url(row, pending.request))
    try:
        return _assure(browser, pending.request, client, citizen, pending_row=row, now=now)
    except AuthorizationRedirect as redirect:
        pending_store.delete_request(browser.db, request=row)
        return _respond_with_error(browser, redirect)


def show_consent(browser: Browser, request_id: str) -> Response:
    """The consent page: which service receives which information, scope by scope."""
    now = browser.context.clock()
    row, pending, client = _load_pending(browser, request_id, now=now)
    if _signed_in_citizen(browser) is None or not _login_fresh(browser, pending):
        return browser.redirect(_login_url(row, pending.request))
    translate = Translator(browser.language)
    items = consent_rules.page_items(pending.request)
    return browser.render(
        "consent.html",
        action=endpoints.CONSENT,
        request_id=row.id,
        client_name=client.client_name,
        scope_lines=[translate(f"consent.scope.{scope}") for scope in items.scopes],
        claim_lines=[
            *(translate(f"consent.claim.{name}") for name in items.described_claims),
            *(translate("consent.claim.other", name=name) for name in items.other_claims),
        ],
    )


def decide_consent(
    browser: Browser, *, csrf_token: str, request_id: str, decision: str
) -> Response:
    """The answer of the consent page (``decision=allow|deny``): deny -> access_denied to the
    client (RFC 6749 4.1.2.1); allow -> remember the consent and issue the code."""
    browser.check_csrf(csrf_token)
    now = browser.context.clock()
    row, pending, client = _load_pending(browser, request_id, now=now)
    citizen = _signed_in_citizen(browser)
    if citizen is None or not _login_fresh(browser, pending):
        return browser.redirect(_login_url(row, pending.request))
    if decision not in consent_rules.DECISIONS:
        raise AuthorizationPageError("Choose to allow or to deny.")
    request = pending.request
    if decision == consent_rules.DENY:
        pending_store.delete_request(browser.db, request=row)
        denied = AccessDenied("The citizen did not allow the request.")
        return _respond_with_error(browser, _refuse(request, client, denied))
    outcome = _gate(browser, request, citizen, now=now)
    if not isinstance(outcome, Proceed):
        # the step-up made for this request lapsed while the citizen read the consent page:
        # the code must not carry a level the session no longer has
        return browser.redirect(_step_up_url(row, request))
    pending_store.delete_request(browser.db, request=row)
    wanted = consent_rules.requested_consent(request)
    pending_store.record_consent(
        browser.db,
        citizen_id=citizen.id,
        client_id=client.client_id,
        scopes=sorted(wanted.scopes),
        claims=sorted(wanted.claims),
        now=now,
    )
    audit_log.append(
        browser.db,
        event=AuditEvent.CONSENT_GRANTED,
        actor=f"citizen:{citizen.id}",
        now=now,
        citizen_id=citizen.id,
        client_id=client.client_id,
        details={"scopes": sorted(wanted.scopes), "claims": sorted(wanted.claims)},
    )
    return _issue(browser, request, client, citizen, assurance=outcome.assurance, now=now)


def choose_step_up(browser: Browser, request_id: str) -> Response:
    """``endpoints.STEP_UP``: send the citizen to the one method that is missing (the eID
    card for level 3, their authenticator app for level 2), or, with no authenticator
    enrolled yet, show the ways to get there. A request that needs no step-up (any more)
    resumes at once."""
    now = browser.context.clock()
    row, pending, _client = _load_pending(browser, request_id, now=now)
    citizen = _signed_in_citizen(browser)
    if citizen is None or not _login_fresh(browser, pending):
        return browser.redirect(_login_url(row, pending.request))
    outcome = _gate(browser, pending.request, citizen, now=now)
    query = urlencode(
        {"request_id": row.id}
        | ({"ui_locales": pending.request.ui_locales} if pending.request.ui_locales else {})
    )
    if not isinstance(outcome, StepUpNeeded):
        return browser.redirect(f"{endpoints.AUTHORIZE_CONTINUE}?{query}")
    if outcome.required_level >= CARD_STRENGTH:
        return browser.redirect(f"{endpoints.STEP_UP_CARD}?{query}")
    if has_confirmed_totp(browser.db, citizen_id=citizen.id):
        return browser.redirect(f"{endpoints.STEP_UP_TOTP}?{query}")
    return browser.render(
        "step_up.html",
        required_level=outcome.required_level,
        enrol_totp_url=f"{endpoints.ACCOUNT_TOTP}?{query}",
        card_url=f"{endpoints.STEP_UP_CARD}?{query}",
    )


# --- decide -----------------------------------------------------------------------------------


def _client(browser: Browser, params: dict[str, str], *, now: datetime) -> OAuthClient | None:
    """The registered client, or a relying party registered automatically from its Trust
    Chain (``idp.federation.registration``; stored only once the request is valid)."""
    client_id = plausible_client_id(params.get("client_id"))
    if client_id is None:
        return None
    try:
        return _registrations(browser).for_authorization(
            browser.db, client_id, signed_request="request" in params, now=now
        )
    except RegistrationRefused as exc:
        raise AuthorizationPageError(
            "The client could not be registered automatically.", debug=str(exc)
        ) from None


def _registrations(browser: Browser) -> AutomaticRegistrations:
    context = browser.context
    return AutomaticRegistrations(context.settings, context.federation, context.clients)


def _spend_and_keep(
    browser: Browser,
    opener: RequestObjectOpener,
    request: ValidatedRequest,
    client: OAuthClient,
    *,
    now: datetime,
) -> OAuthClient:
    """The request is valid: its request object's ``jti`` is spent, and an automatic
    registration resolved for it is stored."""
    try:
        opener.spend()
    except InvalidRequestObject as error:
        raise _refuse(request, client, error) from None
    try:
        return _registrations(browser).keep(browser.db, client, now=now)
    except RegistrationRefused as exc:
        raise AuthorizationPageError(
            "The client could not be registered automatically.", debug=str(exc)
        ) from None


def _refuse(
    request: ValidatedRequest, client: OAuthClient, error: ProviderError
) -> AuthorizationRedirect:
    return AuthorizationRedirect(error, destination=request.destination(client.client_name))


def _signed_in_citizen(browser: Browser) -> Citizen | None:
    """The citizen of this browser's session, if the account is still active."""
    session = browser.session
    if session is None or session.citizen_id is None:
        return None
    citizen = citizen_store.get_by_id(browser.db, citizen_id=session.citizen_id)
    if citizen is None or citizen.status != CitizenStatus.ACTIVE:
        return None
    return citizen


def _hinted_subject(browser: Browser, request: ValidatedRequest, client: OAuthClient) -> str | None:
    """OIDC Core 3.1.2.1 ``id_token_hint``: an ID token we issued to this client (an expired
    one is fine, it only names the citizen); anything else is an invalid_request."""
    if request.id_token_hint is None:
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
        invalid = InvalidRequest("The id_token_hint is not valid.", debug=str(exc))
        raise _refuse(request, client, invalid) from None
    audience = token.claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    subject = token.claims.get("sub")
    if request.client_id not in audiences or not isinstance(subject, str):
        invalid = InvalidRequest("The id_token_hint was not issued to this client.")
        raise _refuse(request, client, invalid)
    return subject


def _must_log_in(
    browser: Browser,
    request: ValidatedRequest,
    client: OAuthClient,
    citizen: Citizen | None,
    hinted_subject: str | None,
    now: datetime,
) -> bool:
    """OIDC Core 3.1.2.3: authenticate when there is no session, when ``prompt`` asks for it,
    when the login is older than ``max_age``, or when ``id_token_hint`` names another
    citizen than the one signed in."""
    if citizen is None or browser.session is None:
        return True
    if FORCED_LOGIN_PROMPTS.intersection(request.prompt):
        return True
    if hinted_subject is not None and hinted_subject != subject_of(
        citizen, client, browser.context.settings
    ):
        return True
    return login_is_stale(
        authenticated_at=browser.session.authenticated_at, max_age=request.max_age, now=now
    )


def _login_fresh(browser: Browser, pending: PendingAuthorization) -> bool:
    session = browser.session
    return fresh_login_done(
        authenticated_at=session.authenticated_at if session else None, pending=pending
    )


def _assure(
    browser: Browser,
    request: ValidatedRequest,
    client: OAuthClient,
    citizen: Citizen,
    *,
    pending_row: AuthorizationRequest | None,
    now: datetime,
) -> Response:
    """The assurance gate (``idp.oidc.step_up``): unmet -> the client gets
    ``unmet_authentication_requirements`` after a page that tells the citizen how to raise
    their level; too weak a login -> the step-up page for the missing method; else consent."""
    outcome = _gate(browser, request, citizen, now=now)
    if _foreign_login_can_raise(browser, request, outcome):
        # a citizen of another country raises their level at home, not here: back to the
        # login page, whose foreign providers forward the level this request asks for
        row = pending_row or _park(
            browser,
            PendingAuthorization(request=request, login_required=True, requested_at=now),
            now=now,
        )
        return browser.redirect(_login_url(row, request))
    if isinstance(outcome, Unmet):
        if pending_row is not None:
            pending_store.delete_request(browser.db, request=pending_row)
        unmet = UnmetAuthenticationRequirements(
            f"The request needs assurance level {outcome.required_level}; "
            f"the account is verified at level {outcome.verification}."
        )
        redirect = _refuse(request, client, unmet)
        if "none" in request.prompt:
            raise redirect
        return _unmet_page(browser, redirect, outcome)
    if isinstance(outcome, StepUpNeeded):
        if "none" in request.prompt:
            stronger = InteractionRequired("The citizen must authenticate with a stronger method.")
            raise _refuse(request, client, stronger)
        row = pending_row or _park(
            browser,
            PendingAuthorization(request=request, login_required=False, requested_at=now),
            now=now,
        )
        return browser.redirect(_step_up_url(row, request))
    return _consent_or_issue(
        browser,
        request,
        client,
        citizen,
        assurance=outcome.assurance,
        pending_row=pending_row,
        now=now,
    )


def _foreign_login_can_raise(
    browser: Browser, request: ValidatedRequest, outcome: GateOutcome
) -> bool:
    """A cross-border session below the requested level (and a request that can be met
    and may interact)."""
    if isinstance(outcome, Proceed) or "none" in request.prompt:
        return False
    if (
        isinstance(outcome, Unmet)
        and not requirement_of(browser.context.settings, request).satisfiable
    ):
        return False
    return browser.session is not None and federated_login(browser.session) is not None


def _gate(
    browser: Browser, request: ValidatedRequest, citizen: Citizen, *, now: datetime
) -> GateOutcome:
    """What the account and this session give now, against what the request asks for."""
    assert browser.session is not None
    settings = browser.context.settings
    assurance = current_assurance(
        browser.db, settings=settings, citizen=citizen, browser_session=browser.session, now=now
    )
    return gate(requirement_of(settings, request), assurance)


def _consent_or_issue(
    browser: Browser,
    request: ValidatedRequest,
    client: OAuthClient,
    citizen: Citizen,
    *,
    assurance: Assurance,
    pending_row: AuthorizationRequest | None,
    now: datetime,
) -> Response:
    """OIDC Core 3.1.2.4: ask for consent when needed (``prompt=none`` -> consent_required),
    else issue the code."""
    stored = pending_store.find_consent(
        browser.db, citizen_id=citizen.id, client_id=client.client_id
    )
    remembered = consent_rules.remembered_consent(stored)
    if consent_rules.consent_needed(prompt=request.prompt, remembered=remembered, request=request):
        if "none" in request.prompt:
            raise _refuse(request, client, ConsentRequired("The citizen has not consented."))
        row = pending_row or _park(
            browser,
            PendingAuthorization(request=request, login_required=False, requested_at=now),
            now=now,
        )
        return browser.redirect(_consent_url(row, request))
    if pending_row is not None:
        pending_store.delete_request(browser.db, request=pending_row)
    return _issue(browser, request, client, citizen, assurance=assurance, now=now)


# --- persist ----------------------------------------------------------------------------------


def _park(
    browser: Browser, pending: PendingAuthorization, *, now: datetime
) -> AuthorizationRequest:
    """Store the validated request while the citizen logs in or consents, bound to this
    browser's session so that its id is useless in another browser."""
    ttl = timedelta(seconds=browser.context.settings.authorization_request_ttl_seconds)
    pending_store.delete_expired_requests(browser.db, now=now)
    row = AuthorizationRequest(
        id=secrets.token_urlsafe(32),
        browser_session_id=browser.ensure_session().id,
        client_id=pending.request.client_id,
        parameters=pending.to_json(),
        created_at=now,
        expires_at=now + ttl,
    )
    pending_store.add_request(browser.db, request=row)
    return row


def _load_pending(
    browser: Browser, request_id: str, *, now: datetime
) -> tuple[AuthorizationRequest, PendingAuthorization, OAuthClient]:
    """The parked request of this browser, unexpired, for a client that still accepts its
    redirect URI; anything else is a page (``AuthorizationRequestInvalid``)."""
    row = pending_store.get_request(browser.db, request_id=request_id)
    session = browser.session
    if row is None or session is None or row.browser_session_id != session.id:
        raise AuthorizationRequestInvalid(debug="unknown request id or another browser's")
    if row.expires_at <= now:
        raise AuthorizationRequestInvalid(debug="the pending request expired")
    try:
        pending = PendingAuthorization.from_json(row.parameters)
    except ValueError as exc:
        raise AuthorizationRequestInvalid(debug=str(exc)) from None
    client = client_store.get_client(browser.db, client_id=row.client_id)
    if client is None or not redirect_uri_matches(
        client.redirect_uris, pending.request.redirect_uri, client.application_type
    ):
        raise AuthorizationRequestInvalid(debug="the client or its redirect URI is gone")
    _use_requested_language(browser, pending.request)
    return row, pending, client


def load_pending(
    browser: Browser, request_id: str, *, now: datetime
) -> tuple[AuthorizationRequest, PendingAuthorization, OAuthClient]:
    """The parked request of this browser (see ``_load_pending``), for the pages of other
    login methods (cross-border login) that resume it."""
    return _load_pending(browser, request_id, now=now)


def _issue(
    browser: Browser,
    request: ValidatedRequest,
    client: OAuthClient,
    citizen: Citizen,
    *,
    assurance: Assurance,
    now: datetime,
) -> Response:
    """RFC 6749 4.1.2: a grant and its single-use code (``idp.oidc.codes``), answered to the
    client with ``state`` and ``iss``, carrying the ``acr``/``amr`` the gate just granted."""
    settings = browser.context.settings
    session = browser.session
    assert session is not None
    code = issue_code(
        browser.db,
        request=request,
        browser_session=session,
        acr=assurance.acr,
        amr=assurance.amr,
        citizen_id=citizen.id,
        scopes=request.scopes,
        now=now,
        code_ttl=timedelta(seconds=settings.authorization_code_ttl_seconds),
        grant_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    audit_log.append(
        browser.db,
        event=AuditEvent.DATA_SHARED,
        actor=f"citizen:{citizen.id}",
        now=now,
        citizen_id=citizen.id,
        client_id=client.client_id,
        details={"scopes": list(request.scopes), "claims": request.claim_names()},
    )
    parameters = success_parameters(code=code, state=request.state, issuer=settings.issuer)
    return _respond(browser, request.destination(client.client_name), parameters)


# --- respond ----------------------------------------------------------------------------------


def _respond(browser: Browser, destination: Destination, parameters: dict[str, str]) -> Response:
    """``query``: 303 to the redirect URI with the parameters appended to its own query.
    ``form_post``: a page whose visible form posts the parameters to the redirect URI, with a
    Content-Security-Policy whose ``form-action`` allows exactly that origin."""
    if destination.response_mode != "form_post":
        return browser.redirect(redirect_with(destination.redirect_uri, parameters))
    response = browser.render(
        "form_post.html",
        with_csrf=False,
        action=destination.redirect_uri,
        fields=parameters,
        client_name=destination.client_name,
    )
    response.headers["content-security-policy"] = form_post_policy(
        form_action_source(destination.redirect_uri)
    )
    return response


def respond_with_error(browser: Browser, redirect: AuthorizationRedirect) -> Response:
    """The error response of ``redirect`` to the client (for other login methods' pages)."""
    return _respond_with_error(browser, redirect)


def _respond_with_error(browser: Browser, redirect: AuthorizationRedirect) -> Response:
    destination = redirect.destination
    if redirect.error.debug:
        logger.info("%s: %s", redirect.error.error, redirect.error.debug)
    parameters = error_parameters(
        redirect.error, state=destination.state, issuer=browser.context.settings.issuer
    )
    return _respond(browser, destination, parameters)


def _login_url(row: AuthorizationRequest, request: ValidatedRequest) -> str:
    query = {"request_id": row.id}
    if request.ui_locales:
        query["ui_locales"] = request.ui_locales
    if request.login_hint:
        query["login_hint"] = request.login_hint
    return f"/login?{urlencode(query)}"


def _consent_url(row: AuthorizationRequest, request: ValidatedRequest) -> str:
    query = {"request_id": row.id}
    if request.ui_locales:
        query["ui_locales"] = request.ui_locales
    return f"{endpoints.CONSENT}?{urlencode(query)}"


def _step_up_url(row: AuthorizationRequest, request: ValidatedRequest) -> str:
    query = {"request_id": row.id}
    if request.ui_locales:
        query["ui_locales"] = request.ui_locales
    return f"{endpoints.STEP_UP}?{urlencode(query)}"


def _unmet_page(browser: Browser, redirect: AuthorizationRedirect, outcome: Unmet) -> Response:
    """The citizen learns why the service cannot be used yet and how to raise their level;
    the button delivers ``unmet_authentication_requirements`` to the client."""
    destination = redirect.destination
    parameters = error_parameters(
        redirect.error, state=destination.state, issuer=browser.context.settings.issuer
    )
    form_post = destination.response_mode == "form_post"
    response = browser.render(
        "assurance_unmet.html",
        status_code=200,
        client_name=destination.client_name,
        required_level=outcome.required_level,
        current_level=outcome.verification,
        raise_steps=[f"assurance.raise.{level}" for level in range(outcome.verification + 1, 4)],
        form_post=form_post,
        action=destination.redirect_uri,
        fields=parameters,
        return_url=redirect_with(destination.redirect_uri, parameters),
        hide_language_switcher=True,
    )
    if form_post:
        response.headers["content-security-policy"] = form_post_policy(
            form_action_source(destination.redirect_uri)
        )
    return response


def _use_requested_language(browser: Browser, request: ValidatedRequest) -> None:
    """OIDC Core 3.1.2.1 ``ui_locales`` keeps applying on the later pages of the flow, unless
    the citizen picked a language with the switcher on this very page."""
    if not request.ui_locales or "lang" in browser.request.query_params:
        return
    browser.language = negotiate_language(
        ui_locales=request.ui_locales,
        chosen=browser.request.cookies.get(LANGUAGE_COOKIE),
        accept_language=browser.request.headers.get("accept-language"),
        default=browser.context.settings.default_language,
    )
