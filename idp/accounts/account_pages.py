"""The citizen's account pages about their data: connected services and activity.

- ``/account/services``: every service the citizen consented to (a ``Consent`` row not
  withdrawn), when, and what it receives, in the consent page's wording
  (``consent.scope.<scope>``, ``consent.claim.<claim>``, ``idp.oidc.consent``).
- ``POST /account/services/withdraw``: withdraws one consent: ``withdrawn_at`` is set, every
  active grant of this citizen for that service is revoked (its refresh and access tokens stop
  working, ``idp.storage.grants.revoke_grant``), and a ``consent.withdrawn`` audit record is
  appended; the next authorization for that service asks for consent again
  (``idp.oidc.consent.remembered_consent``).
- ``/account/activity``: the audit records about the citizen (``idp.audit.log``), newest first,
  ``PAGE_SIZE`` per page, each in plain language with the service's name.

The address of a login or step-up is shown in full: it is the citizen's own data, already
kept in the audit record, and it is what lets a citizen spot a login that was not theirs.

Each handler reads as: (check CSRF ->) find the signed-in citizen -> decide -> persist ->
respond; the queries and the plain-language descriptions are the named functions below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from idp.accounts.continuation import active_citizen
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.dependencies import BrowserDep
from idp.errors import NotFound
from idp.oidc import consent as consent_rules
from idp.oidc.claims import scope_claim_names
from idp.signature.digests import fingerprint
from idp.storage import authorization as consent_store
from idp.storage import grants as grant_store
from idp.storage.models import AuditRecord, Consent, Grant, OAuthClient
from idp.web.i18n import Translator

router = APIRouter()

SERVICES_PATH = "/account/services"
WITHDRAW_PATH = "/account/services/withdraw"
ACTIVITY_PATH = "/account/activity"
LOGIN_PATH = "/login"
PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_FIELD_LENGTH = 1024
CLIENT_ID_LENGTH = 64
"""``OAuthClient.client_id`` is at most 64 characters; a longer one is malformed (400)."""

SHOWN_EVENTS = (
    AuditEvent.LOGIN_SUCCEEDED,
    AuditEvent.STEP_UP,
    AuditEvent.CONSENT_GRANTED,
    AuditEvent.CONSENT_WITHDRAWN,
    AuditEvent.DATA_SHARED,
    AuditEvent.VERIFICATION_RECORDED,
    AuditEvent.SIGNATURE_CREATED,
    AuditEvent.SIGNATURE_REFUSED,
    AuditEvent.SIGNATURE_CREDENTIAL_ISSUED,
    AuditEvent.SIGNATURE_CREDENTIAL_REVOKED,
)
"""Audit events that describe something that happened with the citizen's identity."""

AUTH_METHODS = frozenset({"password", "totp", "recovery_code", "card"})
VERIFICATION_LEVELS = range(0, 4)


# What a service receives, in the consent page's words ----------------------------------------


def data_lines(translate: Translator, *, scopes: Iterable[str], claims: Iterable[str]) -> list[str]:
    """The consent page's lines for what was agreed to or shared: the ``openid`` line, the
    described scopes, then the personal claims named one by one that those scopes do not
    already include (``idp.oidc.consent.page_items`` for a stored consent or audit record)."""
    scope_set = set(scopes)
    lines = [translate("consent.scope.openid")] if "openid" in scope_set else []
    lines += [
        translate(f"consent.scope.{scope}")
        for scope in consent_rules.DESCRIBED_SCOPES
        if scope in scope_set
    ]
    extra = sorted(consent_rules.personal_claims(claims) - scope_claim_names(tuple(scope_set)))
    for name in extra:
        if name in consent_rules.DESCRIBED_CLAIMS:
            lines.append(translate(f"consent.claim.{name}"))
        else:
            lines.append(translate("consent.claim.other", name=name))
    return lines


# Connected services --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectedService:
    client_id: str
    name: str
    granted_at: datetime
    data: list[str]


def connected_services(
    session: Session, translate: Translator, *, citizen_id: int
) -> list[ConnectedService]:
    """The consents in force of a citizen, most recent first, with the service's name."""
    rows = session.execute(
        select(Consent, OAuthClient.client_name)
        .join(OAuthClient, OAuthClient.client_id == Consent.client_id)
        .where(Consent.citizen_id == citizen_id, Consent.withdrawn_at.is_(None))
        .order_by(Consent.granted_at.desc(), Consent.id.desc())
    ).all()
    return [
        ConnectedService(
            client_id=consent.client_id,
            name=name,
            granted_at=consent.granted_at,
            data=data_lines(translate, scopes=consent.scopes, claims=consent.claims),
        )
        for consent, name in rows
    ]


def active_grant_ids(session: Session, *, citizen_id: int, client_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Grant.id).where(
                Grant.citizen_id == citizen_id,
                Grant.client_id == client_id,
                Grant.revoked_at.is_(None),
            )
        ).all()
    )


def withdraw_consent(session: Session, *, consent: Consent, now: datetime) -> int:
    """Withdraw a consent in force: mark it, revoke every grant of that citizen for that
    service (its refresh and access tokens with it), and record it in the audit log. Returns
    how many grants were revoked."""
    consent.withdrawn_at = now
    revoked = sum(
        grant_store.revoke_grant(session, grant_id=grant_id, now=now)
        for grant_id in active_grant_ids(
            session, citizen_id=consent.citizen_id, client_id=consent.client_id
        )
    )
    session.flush()
    audit_log.append(
        session,
        event=AuditEvent.CONSENT_WITHDRAWN,
        actor=f"citizen:{consent.citizen_id}",
        now=now,
        citizen_id=consent.citizen_id,
        client_id=consent.client_id,
        details={"grants_revoked": revoked},
    )
    return revoked


def consent_in_force(session: Session, *, citizen_id: int, client_id: str) -> Consent | None:
    consent = consent_store.find_consent(session, citizen_id=citizen_id, client_id=client_id)
    if consent is None or consent.withdrawn_at is not None:
        return None
    return consent


def withdrawn_notice(
    session: Session, translate: Translator, *, citizen_id: int, client_id: str | None
) -> str | None:
    """The confirmation after a withdrawal, only for a consent of this citizen that is in fact
    withdrawn (a crafted link cannot make the page claim anything else)."""
    if not client_id or len(client_id) > CLIENT_ID_LENGTH:
        return None
    consent = consent_store.find_consent(session, citizen_id=citizen_id, client_id=client_id)
    if consent is None or consent.withdrawn_at is None:
        return None
    names = client_names(session, [client_id])
    return translate("account.services.withdrawn", client=names.get(client_id, client_id))


# Activity ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    occurred_at: datetime
    text: str
    data: list[str]


@dataclass(frozen=True, slots=True)
class ActivityPage:
    entries: list[ActivityEntry]
    page: int
    has_next: bool


def client_names(session: Session, client_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(client_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(OAuthClient.client_id, OAuthClient.client_name).where(
            OAuthClient.client_id.in_(wanted)
        )
    ).all()
    return dict(rows)


def _method_text(translate: Translator, method: object) -> str:
    if isinstance(method, str) and method in AUTH_METHODS:
        return translate(f"account.activity.method.{method}")
    return translate("account.activity.method.other")


def _string_list(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _signed_document_lines(translate: Translator, details: Mapping[str, Any]) -> list[str]:
    """The document's name and the hash it was signed over, as the approval page showed it."""
    name, algorithm, value = (
        details.get("document"),
        details.get("hash_algorithm"),
        details.get("hash"),
    )
    if not (isinstance(name, str) and isinstance(algorithm, str) and isinstance(value, str)):
        return []
    try:
        shown = fingerprint(bytes.fromhex(value))
    except ValueError:
        return [name]
    return [translate("account.activity.signed_document", name=name, hash=f"{algorithm} {shown}")]


def describe(translate: Translator, record: AuditRecord, *, service: str | None) -> ActivityEntry:
    """One audit record in plain language. ``service`` is the client's name, or its id when
    the client was deleted."""
    details: Mapping[str, Any] = record.details or {}
    data: list[str] = []
    match record.event:
        case AuditEvent.LOGIN_SUCCEEDED | AuditEvent.STEP_UP:
            key = "login" if record.event == AuditEvent.LOGIN_SUCCEEDED else "step_up"
            method = _method_text(translate, details.get("method"))
            address = details.get("address")
            if isinstance(address, str) and address:
                text = translate(f"account.activity.{key}_from", method=method, address=address)
            else:
                text = translate(f"account.activity.{key}", method=method)
        case AuditEvent.CONSENT_GRANTED:
            text = translate("account.activity.consent_granted", client=service)
            data = data_lines(
                translate,
                scopes=_string_list(details.get("scopes")),
                claims=_string_list(details.get("claims")),
            )
        case AuditEvent.CONSENT_WITHDRAWN:
            text = translate("account.activity.consent_withdrawn", client=service)
        case AuditEvent.DATA_SHARED:
            text = translate("account.activity.data_shared", client=service)
            data = data_lines(
                translate,
                scopes=_string_list(details.get("scopes")),
                claims=_string_list(details.get("claims")),
            )
        case AuditEvent.VERIFICATION_RECORDED:
            level = details.get("level")
            if isinstance(level, int) and level in VERIFICATION_LEVELS:
                text = translate("account.activity.verification", level=level)
                data = [translate(f"account.level.{level}")]
            else:
                text = translate("account.activity.verification_other")
        case AuditEvent.SIGNATURE_CREATED:
            if service is not None:
                text = translate("account.activity.signature_for", client=service)
            else:
                text = translate("account.activity.signature")
            data = _signed_document_lines(translate, details)
        case AuditEvent.SIGNATURE_REFUSED:
            text = translate("account.activity.signature_refused", client=service or "")
            data = _string_list(details.get("documents"))
        case AuditEvent.SIGNATURE_CREDENTIAL_ISSUED:
            text = translate("account.activity.signature_certificate_issued")
        case AuditEvent.SIGNATURE_CREDENTIAL_REVOKED:
            text = translate("account.activity.signature_certificate_revoked")
        case _:
            text = translate("account.activity.other")
    return ActivityEntry(occurred_at=record.occurred_at, text=text, data=data)


def activity_page(
    session: Session, translate: Translator, *, citizen_id: int, page: int
) -> ActivityPage:
    """One page of the citizen's activity, newest first (one row more than a page tells
    whether there is a next one)."""
    records = list(
        session.scalars(
            select(AuditRecord)
            .where(AuditRecord.citizen_id == citizen_id, AuditRecord.event.in_(SHOWN_EVENTS))
            .order_by(AuditRecord.sequence.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).all()
    )
    shown = records[:PAGE_SIZE]
    names = client_names(session, (r.client_id for r in shown if r.client_id))
    entries = [
        describe(
            translate,
            record,
            service=names.get(record.client_id, record.client_id) if record.client_id else None,
        )
        for record in shown
    ]
    return ActivityPage(entries=entries, page=page, has_next=len(records) > PAGE_SIZE)


# Routes --------------------------------------------------------------------------------------


@router.get(SERVICES_PATH)
def services_page(browser: BrowserDep) -> Response:
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(LOGIN_PATH)
    translate = Translator(browser.language)
    notice = withdrawn_notice(
        browser.db,
        translate,
        citizen_id=citizen.id,
        client_id=browser.request.query_params.get("withdrawn"),
    )
    return browser.render(
        "account_services.html",
        services=connected_services(browser.db, translate, citizen_id=citizen.id),
        notice=notice,
        withdraw_action=WITHDRAW_PATH,
    )


@router.post(WITHDRAW_PATH)
def withdraw(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    client_id: Annotated[str, Form(max_length=CLIENT_ID_LENGTH)] = "",
) -> Response:
    browser.check_csrf(csrf_token)
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(LOGIN_PATH)
    consent = consent_in_force(browser.db, citizen_id=citizen.id, client_id=client_id)
    if consent is None:
        raise NotFound(debug="no consent in force of this citizen for that client")
    withdraw_consent(browser.db, consent=consent, now=browser.context.clock())
    return browser.redirect(f"{SERVICES_PATH}?{urlencode({'withdrawn': client_id})}")


@router.get(ACTIVITY_PATH)
def activity(browser: BrowserDep, page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
    citizen = active_citizen(browser)
    if citizen is None:
        return browser.redirect(LOGIN_PATH)
    translate = Translator(browser.language)
    result = activity_page(browser.db, translate, citizen_id=citizen.id, page=page)
    return browser.render(
        "account_activity.html",
        activity=result,
        previous_url=f"{ACTIVITY_PATH}?page={page - 1}" if page > 1 else None,
        next_url=f"{ACTIVITY_PATH}?page={page + 1}" if result.has_next else None,
    )
