"""Citizen repository: the queries that accounts code needs, as keyword-only functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.storage.models import Citizen, CitizenStatus, IdentityVerification


def find_by_username(session: Session, *, username: str) -> Citizen | None:
    return session.scalars(select(Citizen).where(Citizen.username == username)).one_or_none()


def get_by_id(session: Session, *, citizen_id: int) -> Citizen | None:
    return session.get(Citizen, citizen_id)


def list_citizens(session: Session, *, limit: int = 100, offset: int = 0) -> Sequence[Citizen]:
    return session.scalars(select(Citizen).order_by(Citizen.id).limit(limit).offset(offset)).all()


def add_citizen(
    session: Session,
    *,
    username: str,
    document_type: str,
    document_country: str,
    document_number: str,
    given_name: str,
    family_name: str,
    birthdate: date | None,
    email: str | None,
    phone_number: str | None,
    preferred_language: str | None,
    password_hash: str,
    now: datetime,
) -> Citizen:
    citizen = Citizen(
        username=username,
        document_type=document_type,
        document_country=document_country,
        document_number=document_number,
        given_name=given_name,
        family_name=family_name,
        birthdate=birthdate,
        email=email,
        email_verified=False,
        phone_number=phone_number,
        phone_number_verified=False,
        preferred_language=preferred_language,
        status=CitizenStatus.ACTIVE,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    session.add(citizen)
    session.flush()
    return citizen


def add_verification(
    session: Session,
    *,
    citizen: Citizen,
    level: int,
    method: str,
    verifier: str,
    now: datetime,
    document_type: str | None = None,
    document_number: str | None = None,
    issuing_country: str | None = None,
    note: str | None = None,
) -> IdentityVerification:
    record = IdentityVerification(
        citizen_id=citizen.id,
        level=level,
        method=method,
        verifier=verifier,
        verified_at=now,
        document_type=document_type,
        document_number=document_number,
        issuing_country=issuing_country,
        note=note,
    )
    session.add(record)
    session.flush()
    audit_log.append(
        session,
        event=AuditEvent.VERIFICATION_RECORDED,
        actor=verifier,
        now=now,
        citizen_id=citizen.id,
        details={"level": level, "method": method},
    )
    return record


def verification_level(session: Session, *, citizen_id: int) -> int:
    """The account's verification level: the highest recorded, 0 when none."""
    level = session.scalar(
        select(func.max(IdentityVerification.level)).where(
            IdentityVerification.citizen_id == citizen_id
        )
    )
    return int(level or 0)
