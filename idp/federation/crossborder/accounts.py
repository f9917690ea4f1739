"""The local accounts of citizens of other countries who log in through a peer provider.

A foreign citizen has no password here and never registers: the first cross-border login
creates the account, keyed by the person identifier (``ORIGIN/DESTINATION/opaque``, a keyed
hash of the peer's issuer and ``sub``, see ``claims_mapping.person_identifier``), and later
logins find it again. The peer's attributes (names, date of birth) are refreshed at each
login, since the peer is their source.

The identity was verified by the peer: each login whose level is higher than any the peer
vouched for before appends an ``IdentityVerification`` record (append-only, like every
other) whose evidence is an electronic record from the peer (``verified_claims`` then names
the peer as the source).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.federation.crossborder.claims_mapping import CHECK_METHOD, EVIDENCE_RECORD_TYPE
from idp.oidc.claims import FOREIGN_DOCUMENT_TYPE
from idp.storage.models import (
    Citizen,
    CitizenStatus,
    FederatedIdentity,
    IdentityVerification,
)

DOCUMENT_TYPE = FOREIGN_DOCUMENT_TYPE
"""``Citizen.document_type`` of a foreign citizen's account: the "document" is the eIDAS-style
person identifier, and ``document_country`` the country of origin."""
VERIFICATION_METHOD = "federation"


def find_account(db: Session, *, person_identifier: str) -> Citizen | None:
    link = db.scalars(
        select(FederatedIdentity).where(FederatedIdentity.person_identifier == person_identifier)
    ).one_or_none()
    return db.get(Citizen, link.citizen_id) if link is not None else None


def account_for(
    db: Session,
    *,
    person_identifier: str,
    origin: str,
    peer_issuer: str,
    given_name: str,
    family_name: str,
    birthdate: date,
    now: datetime,
) -> Citizen:
    """The foreign citizen's account, created at the first login, with the peer's current
    attributes. The caller checks ``status`` (an operator may have disabled it)."""
    citizen = find_account(db, person_identifier=person_identifier)
    if citizen is None:
        citizen = Citizen(
            username=person_identifier,
            document_type=DOCUMENT_TYPE,
            document_country=origin,
            document_number=person_identifier,
            given_name=given_name,
            family_name=family_name,
            birthdate=birthdate,
            status=CitizenStatus.ACTIVE,
            password_hash=None,
            created_at=now,
            updated_at=now,
        )
        db.add(citizen)
        db.flush()
        db.add(
            FederatedIdentity(
                citizen_id=citizen.id,
                person_identifier=person_identifier,
                peer_issuer=peer_issuer,
                created_at=now,
                last_login_at=now,
            )
        )
        db.flush()
        audit_log.append(
            db,
            event=AuditEvent.FEDERATED_ACCOUNT_CREATED,
            actor=f"federation:{peer_issuer}",
            now=now,
            citizen_id=citizen.id,
            details={"origin": origin, "peer": peer_issuer},
        )
        return citizen
    if (citizen.given_name, citizen.family_name, citizen.birthdate) != (
        given_name,
        family_name,
        birthdate,
    ):
        citizen.given_name = given_name
        citizen.family_name = family_name
        citizen.birthdate = birthdate
        citizen.updated_at = now
    db.execute(
        FederatedIdentity.__table__.update()
        .where(FederatedIdentity.citizen_id == citizen.id)
        .values(last_login_at=now)
    )
    return citizen


def record_peer_verification(
    db: Session,
    *,
    citizen: Citizen,
    level: int,
    peer_issuer: str,
    peer_name: str,
    country: str,
    verified_at: datetime,
) -> None:
    """Append the peer's verification at ``level`` unless the peer already vouched for this
    person at that level or higher."""
    if level <= 0:
        return
    highest = db.scalar(
        select(func.max(IdentityVerification.level)).where(
            IdentityVerification.citizen_id == citizen.id,
            IdentityVerification.method == VERIFICATION_METHOD,
            IdentityVerification.verifier == peer_issuer[:200],
        )
    )
    if highest is not None and highest >= level:
        return
    db.add(
        IdentityVerification(
            citizen_id=citizen.id,
            level=level,
            method=VERIFICATION_METHOD,
            verifier=peer_issuer[:200],
            verified_at=verified_at,
            issuing_country=country,
            evidence_type="electronic_record",
            check_method=CHECK_METHOD,
            attributes={
                "record_type": EVIDENCE_RECORD_TYPE,
                "source_name": peer_name,
                "source_issuer": peer_issuer,
            },
        )
    )
    db.flush()
    audit_log.append(
        db,
        event=AuditEvent.VERIFICATION_RECORDED,
        actor=f"federation:{peer_issuer}",
        now=verified_at,
        citizen_id=citizen.id,
        details={"level": level, "method": VERIFICATION_METHOD},
    )
