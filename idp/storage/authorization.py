"""Pending authorization requests and remembered consents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.storage.models import AuthorizationRequest, Consent


def add_request(session: Session, *, request: AuthorizationRequest) -> None:
    session.add(request)
    session.flush()


def get_request(session: Session, *, request_id: str) -> AuthorizationRequest | None:
    if not request_id or len(request_id) > 64:
        return None
    return session.get(AuthorizationRequest, request_id)


def delete_request(session: Session, *, request: AuthorizationRequest) -> None:
    session.delete(request)
    session.flush()


def delete_expired_requests(session: Session, *, now: datetime) -> None:
    session.execute(delete(AuthorizationRequest).where(AuthorizationRequest.expires_at < now))


def find_consent(session: Session, *, citizen_id: int, client_id: str) -> Consent | None:
    return session.scalars(
        select(Consent).where(Consent.citizen_id == citizen_id, Consent.client_id == client_id)
    ).one_or_none()


def record_consent(
    session: Session,
    *,
    citizen_id: int,
    client_id: str,
    scopes: list[str],
    claims: list[str],
    now: datetime,
) -> Consent:
    """Remember what the citizen agreed to (the union with what they agreed to before)."""
    consent = find_consent(session, citizen_id=citizen_id, client_id=client_id)
    if consent is None:
        consent = Consent(
            citizen_id=citizen_id,
            client_id=client_id,
            scopes=sorted(set(scopes)),
            claims=sorted(set(claims)),
            granted_at=now,
        )
        session.add(consent)
    else:
        previous_scopes = set() if consent.withdrawn_at else set(consent.scopes)
        previous_claims = set() if consent.withdrawn_at else set(consent.claims)
        consent.scopes = sorted(previous_scopes | set(scopes))
        consent.claims = sorted(previous_claims | set(claims))
        consent.granted_at = now
        consent.withdrawn_at = None
    session.flush()
    return consent
