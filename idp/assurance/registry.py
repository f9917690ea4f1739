"""The civil registry: does the person an account claims to be exist, alive, with a valid
document, and with the same names and birthdate?

``CivilRegistry`` is the one thing a deployment plugs in (its national registry's API);
``DemoCivilRegistry`` answers from the ``civil_registry_record`` table that ``idp demo seed``
fills. ``compare_with_registry`` is a pure function of its inputs; ``match_registry`` runs it
and, on success, appends the evidence (OIDC4IDA ``electronic_record`` checked by ``data``).

A match alone is level 1 at most: it proves that the data are a real person's, not that the
person at the keyboard is that person; level 2 needs an operator's video check on top of it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.assurance.enrolment import (
    REGISTRY_MATCH_LEVEL,
    CheckMethod,
    EvidenceType,
    VerificationMethod,
    VerificationRefused,
    record_evidence,
)
from idp.storage.models import Citizen, CivilRegistryRecord, IdentityVerification


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """What a civil registry answers about one document."""

    record_id: str
    document_country: str
    document_type: str
    document_number: str
    given_name: str
    family_name: str
    birthdate: date
    nationality: str
    document_expires_on: date | None
    deceased: bool


class CivilRegistry(Protocol):
    name: str

    def lookup(self, *, country: str, document_type: str, number: str) -> RegistryEntry | None:
        """The registry's entry for a normalised document, or None when it has none."""
        ...


class DemoCivilRegistry:
    """The demonstration registry, backed by the ``civil_registry_record`` table."""

    name = "demo civil registry"

    def __init__(self, session: Session) -> None:
        self._session = session

    def lookup(self, *, country: str, document_type: str, number: str) -> RegistryEntry | None:
        row = self._session.scalars(
            select(CivilRegistryRecord).where(
                CivilRegistryRecord.document_country == country,
                CivilRegistryRecord.document_type == document_type,
                CivilRegistryRecord.document_number == number,
            )
        ).one_or_none()
        if row is None:
            return None
        return RegistryEntry(
            record_id=str(row.id),
            document_country=row.document_country,
            document_type=row.document_type,
            document_number=row.document_number,
            given_name=row.given_name,
            family_name=row.family_name,
            birthdate=row.birthdate,
            nationality=row.nationality,
            document_expires_on=row.document_expires_on,
            deceased=row.deceased,
        )


class Mismatch(StrEnum):
    """Why a registry match failed (each with the operator's sentence below)."""

    NOT_FOUND = "not_found"
    DECEASED = "deceased"
    DOCUMENT_EXPIRED = "document_expired"
    NAME = "name"
    BIRTHDATE = "birthdate"


MISMATCH_SENTENCES = {
    Mismatch.NOT_FOUND: "The civil registry has no record of the document {document}.",
    Mismatch.DECEASED: "The civil registry records the holder of {document} as deceased.",
    Mismatch.DOCUMENT_EXPIRED: "The civil registry records the document {document} as expired.",
    Mismatch.NAME: "The names of the account {document} do not match the civil registry.",
    Mismatch.BIRTHDATE: (
        "The birthdate of the account {document} is missing or does not match the civil registry."
    ),
}


class RegistryMismatch(VerificationRefused):
    def __init__(self, reason: Mismatch, *, document: str) -> None:
        super().__init__(MISMATCH_SENTENCES[reason].format(document=document))
        self.reason = reason


def comparable_name(value: str) -> str:
    """A name as compared with the registry: accents, case, hyphens and spacing ignored
    ("José  María" == "jose maria", "Pérez-Silva" == "perez silva")."""
    decomposed = unicodedata.normalize("NFKD", value)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(letters.replace("-", " ").replace("'", " ").casefold().split())


def compare_with_registry(
    *,
    given_name: str,
    family_name: str,
    birthdate: date | None,
    entry: RegistryEntry | None,
    today: date,
) -> Mismatch | None:
    """The first reason the declared data do not match the registry entry, or None."""
    if entry is None:
        return Mismatch.NOT_FOUND
    if entry.deceased:
        return Mismatch.DECEASED
    if entry.document_expires_on is not None and entry.document_expires_on < today:
        return Mismatch.DOCUMENT_EXPIRED
    if comparable_name(given_name) != comparable_name(entry.given_name) or comparable_name(
        family_name
    ) != comparable_name(entry.family_name):
        return Mismatch.NAME
    if birthdate is None or birthdate != entry.birthdate:
        return Mismatch.BIRTHDATE
    return None


def match_registry(
    session: Session, *, citizen: Citizen, registry: CivilRegistry, now: datetime
) -> IdentityVerification:
    """Compare the account with the registry; record the evidence, or raise
    ``RegistryMismatch`` having written nothing."""
    entry = registry.lookup(
        country=citizen.document_country,
        document_type=citizen.document_type,
        number=citizen.document_number,
    )
    reason = compare_with_registry(
        given_name=citizen.given_name,
        family_name=citizen.family_name,
        birthdate=citizen.birthdate,
        entry=entry,
        today=now.date(),
    )
    if reason is not None or entry is None:
        raise RegistryMismatch(reason or Mismatch.NOT_FOUND, document=citizen.username)
    return record_evidence(
        session,
        citizen=citizen,
        level=REGISTRY_MATCH_LEVEL,
        method=VerificationMethod.REGISTRY_MATCH,
        evidence_type=EvidenceType.ELECTRONIC_RECORD,
        check_method=CheckMethod.DATA,
        verifier=registry.name,
        now=now,
        attributes=registry_attributes(registry.name, entry),
    )


def registry_attributes(registry_name: str, entry: RegistryEntry) -> dict[str, object]:
    """Evidence details, named as ``idp.assurance.verified_claims`` reads them."""
    attributes: dict[str, object] = {
        "registry": registry_name,
        "registry_record_id": entry.record_id,
        "nationality": entry.nationality,
    }
    if entry.document_expires_on is not None:
        attributes["date_of_expiry"] = entry.document_expires_on.isoformat()
    return attributes
