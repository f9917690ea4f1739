"""Pending authorization requests and remembered consents.

A pending request is looked up only by an id of the shape the authorize endpoint makes
(``secrets.token_urlsafe(32)``): anything else, a NUL byte included, never reaches the
database. Consents are one row per citizen and client (a unique constraint); recording one is
an upsert that survives two tabs consenting at the same moment (SQLite and PostgreSQL, the two
supported backends, both have ``INSERT ... ON CONFLICT``).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from idp.storage.models import AuthorizationRequest, Consent

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def add_request(session: Session, *, request: AuthorizationRequest) -> None:
    session.add(request)
    session.flush()


def get_request(session: Session, *, request_id: str) -> AuthorizationRequest | None:
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        return None
    return session.get(AuthorizationRequest, request_id)


def delete_request(session: Session, *, request: AuthorizationRequest) -> None:
    session.delete(request)
    session.flush()


def delete_expired_requests(session: Session, *, now: datetime) -> None:
    """Forget requests nobody finished (an indexed range delete)."""
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
    """Remember what the citizen agreed to: the union with a consent still in force, or
    exactly this after a withdrawal; ``granted_at`` is now and ``withdrawn_at`` is cleared.

    The row is created with ``INSERT ... ON CONFLICT DO NOTHING`` and then updated, so that two
    requests consenting at once both succeed (the second waits for the first's row and updates
    it) without a savepoint, which pysqlite would commit early outside a transaction."""
    _insert_consent_if_absent(session, citizen_id=citizen_id, client_id=client_id, now=now)
    consent = find_consent(session, citizen_id=citizen_id, client_id=client_id)
    assert consent is not None, "the consent row was inserted or already there"
    session.refresh(consent)
    kept_scopes = set() if consent.withdrawn_at is not None else set(consent.scopes)
    kept_claims = set() if consent.withdrawn_at is not None else set(consent.claims)
    consent.scopes = sorted(kept_scopes | set(scopes))
    consent.claims = sorted(kept_claims | set(claims))
    consent.granted_at = now
    consent.withdrawn_at = None
    session.flush()
    return consent


def _insert_consent_if_absent(
    session: Session, *, citizen_id: int, client_id: str, now: datetime
) -> None:
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Consent)
        .values(
            citizen_id=citizen_id,
            client_id=client_id,
            scopes=[],
            claims=[],
            granted_at=now,
            withdrawn_at=None,
        )
        .on_conflict_do_nothing(index_elements=[Consent.citizen_id, Consent.client_id])
    )
