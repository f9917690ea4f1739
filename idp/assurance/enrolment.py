"""Identity verification evidence: the records that raise an account's verification level.

Each check an operator, the civil registry or the citizen's mailbox performs is appended as an
``IdentityVerification`` row (never changed afterwards). The names follow OpenID Connect for
Identity Assurance 1.0 (section 5.1.1 evidence types; the predefined ``check_method`` values of
the IDA predefined-values registry):

- level 1 ``email``: the citizen entered a code mailed to them (``electronic_record``, ``data``);
- level 1 ``registry_match``: the account's data match the civil registry (``electronic_record``,
  ``data``); on its own it does not prove that the person at the keyboard is that person;
- level 2 ``video``: an operator saw the person and their document over video (``document``,
  ``vri`` for the document, ``pvr`` for the person), allowed only after a registry match;
- level 3 ``in_person``: a registration authority checked the person with the document in hand
  (``document``, ``vpip`` for the document, ``pvp`` for the person).

Functions take ``now`` and the session; they validate first, so a refusal writes nothing.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.storage.models import Citizen, IdentityVerification

MAX_OPERATOR_LENGTH = 200
MAX_NOTE_LENGTH = 2000


class EvidenceType(StrEnum):
    """OIDC4IDA 5.1.1 evidence types."""

    DOCUMENT = "document"
    ELECTRONIC_RECORD = "electronic_record"
    ELECTRONIC_SIGNATURE = "electronic_signature"


class CheckMethod(StrEnum):
    """Predefined ``check_method`` values of OpenID Identity Assurance."""

    DATA = "data"
    """Validation of the data against an authoritative source."""
    VRI = "vri"
    """Document verified remotely from its image (here: shown on video)."""
    VPIP = "vpip"
    """Physical document verified in person."""
    PVR = "pvr"
    """Person compared remotely with the document's photo."""
    PVP = "pvp"
    """Person compared in person with the document's photo."""


class VerificationMethod(StrEnum):
    EMAIL = "email"
    REGISTRY_MATCH = "registry_match"
    VIDEO = "video"
    IN_PERSON = "in_person"


EMAIL_LEVEL = 1
REGISTRY_MATCH_LEVEL = 1
VIDEO_LEVEL = 2
IN_PERSON_LEVEL = 3


class VerificationRefused(ValueError):
    """A verification step was refused; the message is one sentence for the operator."""


def clean_operator(raw: str) -> str:
    """The name of the operator who performed a check: required, one line, bounded."""
    name = " ".join(raw.split())
    if not name:
        raise VerificationRefused("Give the name of the operator who performed the check.")
    if len(name) > MAX_OPERATOR_LENGTH:
        raise VerificationRefused(
            f"The operator name must have at most {MAX_OPERATOR_LENGTH} characters."
        )
    if _has_control_characters(name):
        raise VerificationRefused("The operator name must not contain control characters.")
    return name


def clean_note(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    note = raw.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise VerificationRefused(f"The note must have at most {MAX_NOTE_LENGTH} characters.")
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in note):
        raise VerificationRefused("The note must not contain control characters.")
    return note


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def record_evidence(
    session: Session,
    *,
    citizen: Citizen,
    level: int,
    method: VerificationMethod,
    evidence_type: EvidenceType,
    check_method: CheckMethod,
    verifier: str,
    now: datetime,
    with_document: bool = True,
    note: str | None = None,
    attributes: dict[str, object] | None = None,
) -> IdentityVerification:
    """Append one evidence record; the document fields are the account's own document."""
    record = IdentityVerification(
        citizen_id=citizen.id,
        level=level,
        method=method.value,
        document_type=citizen.document_type if with_document else None,
        document_number=citizen.document_number if with_document else None,
        issuing_country=citizen.document_country if with_document else None,
        verifier=verifier,
        verified_at=now,
        note=note,
        evidence_type=evidence_type.value,
        check_method=check_method.value,
        attributes=attributes,
    )
    session.add(record)
    session.flush()
    return record


def evidence_of(session: Session, *, citizen: Citizen) -> list[IdentityVerification]:
    """The account's evidence records, oldest first."""
    return list(
        session.scalars(
            select(IdentityVerification)
            .where(IdentityVerification.citizen_id == citizen.id)
            .order_by(IdentityVerification.verified_at, IdentityVerification.id)
        )
    )


def latest_registry_match(session: Session, *, citizen: Citizen) -> IdentityVerification | None:
    return session.scalars(
        select(IdentityVerification)
        .where(
            IdentityVerification.citizen_id == citizen.id,
            IdentityVerification.method == VerificationMethod.REGISTRY_MATCH.value,
        )
        .order_by(IdentityVerification.verified_at.desc(), IdentityVerification.id.desc())
        .limit(1)
    ).one_or_none()


def record_video_check(
    session: Session, *, citizen: Citizen, operator: str, note: str | None, now: datetime
) -> IdentityVerification:
    """Level 2: an operator's video check, on top of a successful civil registry match."""
    operator = clean_operator(operator)
    note = clean_note(note)
    match = latest_registry_match(session, citizen=citizen)
    if match is None:
        raise VerificationRefused(
            f"The account {citizen.username} has no civil registry match yet; "
            "run `idp verify registry` first."
        )
    return record_evidence(
        session,
        citizen=citizen,
        level=VIDEO_LEVEL,
        method=VerificationMethod.VIDEO,
        evidence_type=EvidenceType.DOCUMENT,
        check_method=CheckMethod.VRI,
        verifier=operator,
        now=now,
        note=note,
        attributes={
            **(match.attributes or {}),
            "person_check": CheckMethod.PVR.value,
            "registry_match_id": match.id,
        },
    )


def parse_document_expiry(raw: str, *, today: date) -> date:
    try:
        expires_on = date.fromisoformat(raw)
    except ValueError:
        raise VerificationRefused(
            f"The document expiry {raw!r} is not a valid date in the form YYYY-MM-DD."
        ) from None
    if expires_on < today:
        raise VerificationRefused(
            f"The document expired on {expires_on.isoformat()}; an expired document proves nothing."
        )
    return expires_on


def record_in_person_check(
    session: Session,
    *,
    citizen: Citizen,
    operator: str,
    document_expires: str,
    note: str | None,
    now: datetime,
) -> IdentityVerification:
    """Level 3: a registration authority checked the person with the document in hand."""
    operator = clean_operator(operator)
    note = clean_note(note)
    expires_on = parse_document_expiry(document_expires, today=now.date())
    return record_evidence(
        session,
        citizen=citizen,
        level=IN_PERSON_LEVEL,
        method=VerificationMethod.IN_PERSON,
        evidence_type=EvidenceType.DOCUMENT,
        check_method=CheckMethod.VPIP,
        verifier=operator,
        now=now,
        note=note,
        attributes={
            "person_check": CheckMethod.PVP.value,
            "date_of_expiry": expires_on.isoformat(),
        },
    )


def describe_evidence(record: IdentityVerification) -> dict[str, object]:
    """One record as plain data (CLI ``--json``, tests)."""
    return {
        "id": record.id,
        "level": record.level,
        "method": record.method,
        "evidence_type": record.evidence_type,
        "check_method": record.check_method,
        "document_type": record.document_type,
        "document_number": record.document_number,
        "issuing_country": record.issuing_country,
        "verifier": record.verifier,
        "verified_at": record.verified_at,
        "note": record.note,
        "attributes": record.attributes,
    }
