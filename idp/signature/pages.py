"""The citizen's signature pages: approving a relying party's request, and the signing
certificate on the account.

- ``GET /signature/approve?request_id=``: who asks (the client's name), what (each document's
  name, hash algorithm and fingerprint) and in which format. The signer must be the citizen
  the request names; without a recent proof of ``signature_auth_strength`` the page offers
  that proof first (eID card or TOTP step-up, which comes back here).
- ``POST /signature/approve``: ``decision=approve`` creates the single-use authorisation and
  signs at once (``idp.signature.activation``), then returns to the client's ``redirect_uri``
  with ``request_id`` and ``state``; ``decision=decline`` returns with ``error=access_denied``.
  A second submission finds the request signed and only returns again.
- ``GET /account/signature``: the certificate (subject, serial number, validity, status),
  enrolment with an explicit consent, and revocation.

Each handler reads as: (check CSRF ->) find the signed-in citizen -> decide -> persist ->
respond.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Form
from sqlalchemy import update
from starlette.responses import Response

from idp.accounts.continuation import (
    active_citizen,
    is_signature_request_id,
    with_request_id,
)
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.dependencies import BrowserDep
from idp.oidc import endpoints
from idp.oidc.issuance import subject_of
from idp.signature import activation, credentials, requests
from idp.signature.ca import SignatureCaError
from idp.signature.custody import CustodyError
from idp.signature.digests import fingerprint
from idp.storage import clients as client_store
from idp.storage.models import (
    Citizen,
    OAuthClient,
    SignatureCredential,
    SignatureRequest,
    SignatureRequestStatus,
)
from idp.web.browser import Browser
from idp.web.i18n import Translator
from idp.web.pages import FormError

logger = logging.getLogger(__name__)

router = APIRouter()

APPROVE_PATH = endpoints.SIGNATURE_APPROVE
ACCOUNT_SIGNATURE_PATH = "/account/signature"
ENROL_PATH = "/account/signature/enrol"
REVOKE_PATH = "/account/signature/revoke"
MAX_FIELD_LENGTH = 1024


def _back_to_client(request: SignatureRequest, **parameters: str) -> str:
    """The client's redirect URI with ``request_id``, ``state`` and ``parameters`` added to
    its query (its own query is kept, RFC 6749 3.1.2)."""
    parts = urlsplit(request.redirect_uri)
    added = {"request_id": request.id, **parameters}
    if request.state is not None:
        added["state"] = request.state
    query = "&".join(filter(None, [parts.query, urlencode(added)]))
    return urlunsplit(parts._replace(query=query))


def _step_up_path(strength: int) -> str:
    return endpoints.STEP_UP_CARD if strength >= 3 else endpoints.STEP_UP_TOTP


def _fresh_enough(browser: Browser) -> bool:
    settings = browser.context.settings
    session = browser.session
    if session is None:
        return False
    strength = activation.fresh_strength(
        session.auth_methods,
        now=browser.context.clock(),
        max_age=timedelta(seconds=settings.signature_auth_max_age_seconds),
    )
    return strength >= settings.signature_auth_strength


def _status_page(
    browser: Browser, message_key: str, *, status_code: int, back: str | None = None
) -> Response:
    return browser.render(
        "signature_status.html", status_code=status_code, message_key=message_key, back=back
    )


def _load(browser: Browser, request_id: str | None) -> tuple[SignatureRequest, OAuthClient] | None:
    if not is_signature_request_id(request_id):
        return None
    row = browser.db.get(SignatureRequest, request_id)
    if row is None:
        return None
    client = client_store.get_client(browser.db, client_id=row.client_id)
    return (row, client) if client is not None else None


def _is_signer(
    browser: Browser, citizen: Citizen, request: SignatureRequest, client: OAuthClient
) -> bool:
    return subject_of(citizen, client, browser.context.settings) == request.subject


def _approval_page(
    browser: Browser,
    *,
    request: SignatureRequest,
    client: OAuthClient,
    credential: SignatureCredential | None,
    may_enrol: bool,
    status_code: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    settings = browser.context.settings
    documents = [
        {
            "name": document.name,
            "hash_algorithm": document.hash_algorithm,
            "fingerprint": fingerprint(document.digest),
        }
        for document in requests.documents_of(request)
    ]
    fresh = _fresh_enough(browser)
    browser.allow_form_target(request.redirect_uri)
    return browser.render(
        "signature_approve.html",
        status_code=status_code,
        errors=errors,
        request_id=request.id,
        client_name=client.client_name,
        documents=documents,
        signature_format=request.signature_format,
        credential=credential,
        may_enrol=may_enrol,
        fresh=fresh,
        step_up_url=with_request_id(_step_up_path(settings.signature_auth_strength), request.id),
        enrol_url=with_request_id(ACCOUNT_SIGNATURE_PATH, request.id),
        max_age_minutes=max(1, settings.signature_auth_max_age_seconds // 60),
        strength=settings.signature_auth_strength,
    )


def _precheck(
    browser: Browser, request_id: str | None
) -> Response | tuple[Citizen, SignatureRequest, OAuthClient]:
    """Everything both handlers check before showing or acting: a known request, a signed-in
    citizen who is its signer, and a request still open (a signed one returns to the client)."""
    loaded = _load(browser, request_id)
    if loaded is None:
        return _status_page(browser, "signature.status.unknown", status_code=404)
    request, client = loaded
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(with_request_id("/login", request.id))
    if not _is_signer(browser, citizen, request, client):
        logger.info("signature request %s: citizen %s is not its signer", request.id, citizen.id)
        return _status_page(browser, "signature.status.other_citizen", status_code=403)
    now = browser.context.clock()
    if request.status == SignatureRequestStatus.SIGNED:
        browser.allow_form_target(request.redirect_uri)
        return browser.redirect(_back_to_client(request))
    if not requests.is_open(request, now=now):
        back = _back_to_client(request, error="access_denied")
        return _status_page(browser, "signature.status.closed", status_code=410, back=back)
    return citizen, request, client


@router.get(APPROVE_PATH)
def approval_page(browser: BrowserDep) -> Response:
    checked = _precheck(browser, browser.request.query_params.get("request_id"))
    if isinstance(checked, Response):
        return checked
    citizen, request, client = checked
    context = browser.context
    credential = credentials.active_credential(
        browser.db, citizen_id=citizen.id, now=context.clock()
    )
    may_enrol = credentials.may_enrol(browser.db, citizen=citizen, settings=context.settings)
    return _approval_page(
        browser, request=request, client=client, credential=credential, may_enrol=may_enrol
    )


@router.post(APPROVE_PATH)
def submit_approval(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    checked = _precheck(browser, request_id)
    if isinstance(checked, Response):
        return checked
    citizen, request, client = checked
    context = browser.context
    now = context.clock()
    db = browser.db
    if decision == "decline":
        return _decline(browser, citizen=citizen, request=request)
    credential = credentials.active_credential(db, citizen_id=citizen.id, now=now)
    may_enrol = credentials.may_enrol(db, citizen=citizen, settings=context.settings)
    translate = Translator(browser.language)
    if decision != "approve" or credential is None or not _fresh_enough(browser):
        reason = "no_credential" if credential is None else "not_fresh"
        if decision != "approve":
            reason = "decision"
        error = FormError(translate(f"signature.error.{reason}"))
        return _approval_page(
            browser,
            request=request,
            client=client,
            credential=credential,
            may_enrol=may_enrol,
            status_code=400 if reason == "decision" else 403,
            errors=[error],
        )
    documents = requests.documents_of(request)
    try:
        with db.begin_nested():
            sad = activation.authorise(
                db,
                request=request,
                citizen_id=citizen.id,
                credential=credential,
                documents=documents,
                now=now,
            )
            if sad is None:
                # A double submission: the first one signs; this one only goes back.
                db.refresh(request)
                browser.allow_form_target(request.redirect_uri)
                return browser.redirect(_back_to_client(request))
            activation.sign_hashes(
                db,
                sad=sad,
                documents=documents,
                signature_format=request.signature_format,
                authority=context.signature_authority,
                now=now,
            )
    except (activation.SigningRefused, SignatureCaError, CustodyError) as exc:
        code = exc.code if isinstance(exc, activation.SigningRefused) else "unavailable"
        if isinstance(exc, CustodyError):
            # The stored wrapped key was altered or the key passphrase changed: nothing was
            # signed (the savepoint took the authorisation back); the operator must act.
            # The message names the cause only, never key material.
            logger.error(
                "signature request %s: the signing key of credential %s cannot be opened: %s",
                request.id,
                credential.id,
                exc,
            )
        logger.warning("signature request %s refused: %s", request.id, code)
        error = FormError(translate(f"signature.error.{code}"))
        return _approval_page(
            browser,
            request=request,
            client=client,
            credential=credential,
            may_enrol=may_enrol,
            status_code=409,
            errors=[error],
        )
    browser.allow_form_target(request.redirect_uri)
    return browser.redirect(_back_to_client(request))


def _decline(browser: Browser, *, citizen: Citizen, request: SignatureRequest) -> Response:
    now = browser.context.clock()
    declined = browser.db.execute(
        update(SignatureRequest)
        .where(
            SignatureRequest.id == request.id,
            SignatureRequest.status == SignatureRequestStatus.PENDING,
        )
        .values(status=SignatureRequestStatus.REFUSED, citizen_id=citizen.id, completed_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if declined.rowcount == 1:  # type: ignore[attr-defined]
        audit_log.append(
            browser.db,
            event=AuditEvent.SIGNATURE_REFUSED,
            actor=f"citizen:{citizen.id}",
            now=now,
            citizen_id=citizen.id,
            client_id=request.client_id,
            details={"request": request.id, "documents": [d["name"] for d in request.documents]},
        )
    browser.allow_form_target(request.redirect_uri)
    return browser.redirect(_back_to_client(request, error="access_denied"))


# The signing certificate on the account ------------------------------------------------------


def _account_page(
    browser: Browser,
    citizen: Citizen,
    *,
    request_id: str | None,
    status_code: int = 200,
    errors: list[FormError] | None = None,
    notice_key: str | None = None,
) -> Response:
    context = browser.context
    now = context.clock()
    rows = credentials.credentials_of(browser.db, citizen_id=citizen.id)
    certificates = [
        {
            "id": row.id,
            "status": "expired" if row.status == "active" and row.not_after <= now else row.status,
            "subject": credentials.certificate_of(row).subject.rfc4514_string(),
            "serial": row.certificate_serial,
            "created_at": row.created_at,
            "not_after": row.not_after,
            "revoked_at": row.revoked_at,
        }
        for row in rows
    ]
    active = credentials.active_credential(browser.db, citizen_id=citizen.id, now=now)
    return browser.render(
        "account_signature.html",
        status_code=status_code,
        errors=errors,
        notice_key=notice_key,
        certificates=certificates,
        active=active,
        may_enrol=credentials.may_enrol(browser.db, citizen=citizen, settings=context.settings),
        available=context.signature_authority.available(),
        fresh=_fresh_enough(browser),
        step_up_url=with_request_id(
            _step_up_path(context.settings.signature_auth_strength),
            request_id,
        ),
        minimum_level=context.settings.signature_min_verification_level,
        signature_request_id=request_id if is_signature_request_id(request_id) else None,
    )


def _signature_request_id(value: str | None) -> str | None:
    return value if is_signature_request_id(value) else None


@router.get(ACCOUNT_SIGNATURE_PATH)
def account_signature(browser: BrowserDep) -> Response:
    request_id = _signature_request_id(browser.request.query_params.get("request_id"))
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(with_request_id("/login", request_id))
    return _account_page(browser, citizen, request_id=request_id)


@router.post(ENROL_PATH)
def enrol(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    pending = _signature_request_id(request_id)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(with_request_id("/login", pending))
    translate = Translator(browser.language)
    context = browser.context
    if not _fresh_enough(browser):
        error = FormError(translate("signature.error.not_fresh"))
        return _account_page(browser, citizen, request_id=pending, status_code=403, errors=[error])
    try:
        credentials.enrol(
            browser.db,
            citizen=citizen,
            consented=consent == "yes",
            authority=context.signature_authority,
            settings=context.settings,
            now=context.clock(),
        )
    except credentials.EnrolmentRefused as refused:
        error = FormError(translate(f"signature.enrol.error.{refused.code}"), "consent")
        status = 400 if refused.code == "consent_required" else 403
        return _account_page(
            browser, citizen, request_id=pending, status_code=status, errors=[error]
        )
    except SignatureCaError as exc:
        logger.error("signing CA unusable: %s", exc)
        error = FormError(translate("signature.enrol.error.unavailable"))
        return _account_page(browser, citizen, request_id=pending, status_code=503, errors=[error])
    if pending:
        return browser.redirect(with_request_id(APPROVE_PATH, pending))
    return _account_page(browser, citizen, request_id=None, notice_key="signature.enrol.done")


@router.post(REVOKE_PATH)
def revoke(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    credential_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect("/login")
    revoked = credentials.revoke(
        browser.db, citizen_id=citizen.id, credential_id=credential_id, now=browser.context.clock()
    )
    if not revoked:
        error = FormError(Translator(browser.language)("signature.revoke.error"))
        return _account_page(browser, citizen, request_id=None, status_code=404, errors=[error])
    return _account_page(browser, citizen, request_id=None, notice_key="signature.revoke.done")
