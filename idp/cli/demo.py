"""``idp demo``: demonstration data for development (refused in production)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.documents import normalise_document_number
from idp.accounts.passwords import PasswordHasher
from idp.accounts.registration import NewCitizen, create_citizen
from idp.assurance.enrolment import (
    EMAIL_LEVEL,
    IN_PERSON_LEVEL,
    VIDEO_LEVEL,
    CheckMethod,
    EvidenceType,
    VerificationMethod,
    record_evidence,
)
from idp.assurance.registry import DemoCivilRegistry, RegistryEntry, registry_attributes
from idp.assurance.totp import SecondFactorKeys, code_at
from idp.cli import common
from idp.context import utc_now
from idp.signing_keys import service as keys
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, CivilRegistryRecord, TotpCredential

app = typer.Typer(help="Demonstration data (development only).", no_args_is_help=True)

DEMO_PASSWORD = "demo-ciudadania"  # printed for the demo on purpose; never a real password

DEMO_CITIZENS = (
    NewCitizen(
        document_number="1.234.567-2",
        given_name="María",
        family_name="Rodríguez",
        birthdate="1985-04-12",
        email="maria.rodriguez@example.uy",
        preferred_language="es",
        verification_level=0,
    ),
    NewCitizen(
        document_number="2.345.678-3",
        given_name="Juan",
        family_name="Pérez",
        birthdate="1979-11-03",
        email="juan.perez@example.uy",
        verification_level=1,
    ),
    NewCitizen(
        document_number="3.456.789-4",
        given_name="Ana",
        family_name="Silva",
        birthdate="1992-06-30",
        email="ana.silva@example.uy",
        preferred_language="pt",
        verification_level=2,
    ),
    NewCitizen(
        document_number="4.567.890-5",
        given_name="Carlos",
        family_name="Fernández",
        birthdate="1968-01-21",
        email="carlos.fernandez@example.uy",
        verification_level=3,
    ),
)


DEMO_VERIFIER = "demo seed"

DEMO_TOTP_SECRET_BASE32 = "KRSXG5CDNFSGC5DBNZUWCZDFNR2XE5LHOVQXSCQK"
"""The demo citizens' authenticator secret: public on purpose (printed, documented), so that
anyone can add it to an authenticator app or run ``idp demo totp-code`` to step up."""

DEMO_TOTP_FROM_LEVEL = 2
"""Demo citizens verified at this level or above have the demo authenticator set up."""


@dataclass(frozen=True, slots=True)
class DemoRegistryRecord:
    """A person as the demo civil registry knows them (Uruguayan cédula)."""

    document_number: str
    given_name: str
    family_name: str
    birthdate: str
    nationality: str = "UY"
    document_expires_on: str | None = "2032-12-31"
    deceased: bool = False


DEMO_REGISTRY = (
    *(
        DemoRegistryRecord(
            document_number=citizen.document_number,
            given_name=citizen.given_name,
            family_name=citizen.family_name,
            birthdate=citizen.birthdate or "",
        )
        for citizen in DEMO_CITIZENS
    ),
    # Not enrolled yet: can self-register at /register and match the registry.
    DemoRegistryRecord("5.678.901-6", "Lucía", "Martínez", "2000-02-29"),
    # A Brazilian resident with a Uruguayan cédula.
    DemoRegistryRecord("3.141.592-1", "Valentina", "Núñez da Silva", "1995-07-08", "BR"),
    # Refused by a registry match: an expired document, a deceased holder.
    DemoRegistryRecord("6.123.456-9", "Sofía", "González", "1990-10-10", "UY", "2020-05-31"),
    DemoRegistryRecord("1.111.111-1", "Pedro", "Gómez", "1931-03-03", "UY", None, deceased=True),
)
"""The demo civil registry (``idp verify registry`` reads it): the demo citizens and a few
more sample people."""


def seed_registry(session: Session) -> dict[str, CivilRegistryRecord]:
    """Add the demo registry's missing records; every demo record by normalised number."""
    rows: dict[str, CivilRegistryRecord] = {}
    for person in DEMO_REGISTRY:
        number = normalise_document_number(person.document_number)
        row = session.scalars(
            select(CivilRegistryRecord).where(
                CivilRegistryRecord.document_country == "UY",
                CivilRegistryRecord.document_type == "ci",
                CivilRegistryRecord.document_number == number,
            )
        ).one_or_none()
        if row is None:
            row = CivilRegistryRecord(
                document_country="UY",
                document_type="ci",
                document_number=number,
                given_name=person.given_name,
                family_name=person.family_name,
                birthdate=date.fromisoformat(person.birthdate),
                nationality=person.nationality,
                document_expires_on=(
                    date.fromisoformat(person.document_expires_on)
                    if person.document_expires_on
                    else None
                ),
                deceased=person.deceased,
            )
            session.add(row)
            session.flush()
        rows[number] = row
    return rows


def record_demo_evidence(
    session: Session,
    *,
    citizen: Citizen,
    level: int,
    registry_row: CivilRegistryRecord | None,
    now: datetime,
) -> None:
    """One evidence record for a demo citizen's level, as the real checks would leave it:
    level 1 a confirmed email; level 2 a video check on top of a registry match (one record
    carrying both); level 3 an in-person check with the document in hand."""
    if level >= EMAIL_LEVEL:
        citizen.email_verified = citizen.email is not None
    if level == EMAIL_LEVEL:
        record_evidence(
            session,
            citizen=citizen,
            level=EMAIL_LEVEL,
            method=VerificationMethod.EMAIL,
            evidence_type=EvidenceType.ELECTRONIC_RECORD,
            check_method=CheckMethod.DATA,
            verifier=DEMO_VERIFIER,
            now=now,
            with_document=False,
            note="Demo: email address confirmed with a mailed code.",
            attributes={"email": citizen.email, "record_type": "email_address"},
        )
    elif level == VIDEO_LEVEL:
        attributes: dict[str, object] = {"person_check": CheckMethod.PVR.value}
        if registry_row is not None:
            entry = RegistryEntry(
                record_id=str(registry_row.id),
                document_country=registry_row.document_country,
                document_type=registry_row.document_type,
                document_number=registry_row.document_number,
                given_name=registry_row.given_name,
                family_name=registry_row.family_name,
                birthdate=registry_row.birthdate,
                nationality=registry_row.nationality,
                document_expires_on=registry_row.document_expires_on,
                deceased=registry_row.deceased,
            )
            attributes = {**registry_attributes(DemoCivilRegistry.name, entry), **attributes}
        record_evidence(
            session,
            citizen=citizen,
            level=VIDEO_LEVEL,
            method=VerificationMethod.VIDEO,
            evidence_type=EvidenceType.DOCUMENT,
            check_method=CheckMethod.VRI,
            verifier=DEMO_VERIFIER,
            now=now,
            note="Demo: civil registry match, then an operator's video check.",
            attributes=attributes,
        )
    elif level == IN_PERSON_LEVEL:
        expires = registry_row.document_expires_on if registry_row is not None else None
        attributes = {"person_check": CheckMethod.PVP.value}
        if expires is not None:
            attributes["date_of_expiry"] = expires.isoformat()
        record_evidence(
            session,
            citizen=citizen,
            level=IN_PERSON_LEVEL,
            method=VerificationMethod.IN_PERSON,
            evidence_type=EvidenceType.DOCUMENT,
            check_method=CheckMethod.VPIP,
            verifier=DEMO_VERIFIER,
            now=now,
            note="Demo: checked in person by a registration authority, document in hand.",
            attributes=attributes,
        )


@app.command("seed")
def seed(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create development keys if none exist, the demo citizens with their evidence and the
    demo civil registry (idempotent)."""
    settings = common.settings()
    if settings.is_production:
        common.fail("Demo data is refused in production mode.")
    hasher = PasswordHasher.from_settings(settings)
    totp_keys = SecondFactorKeys.from_settings(settings)
    created_keys: list[str] = []
    logins: list[dict[str, object]] = []
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        if not keys.list_keys(session):
            created = keys.create_initial_keys(
                session, store=keys.key_store(settings), now=utc_now()
            )
            created_keys = [key.kid for key in created]
        registry_rows = seed_registry(session)
        for request in DEMO_CITIZENS:
            username = normalise_document_number(request.document_number)
            citizen = citizen_store.find_by_username(session, username=username)
            if citizen is None:
                now = utc_now()
                citizen = create_citizen(
                    session,
                    request=replace(request, verification_level=0),
                    password=DEMO_PASSWORD,
                    hasher=hasher,
                    now=now,
                    verifier=DEMO_VERIFIER,
                )
                record_demo_evidence(
                    session,
                    citizen=citizen,
                    level=request.verification_level,
                    registry_row=registry_rows.get(username),
                    now=now,
                )
            has_demo_totp = request.verification_level >= DEMO_TOTP_FROM_LEVEL
            if has_demo_totp:
                seed_demo_totp(session, citizen=citizen, keys=totp_keys, now=utc_now())
            logins.append(
                {
                    "username": request.document_number,
                    "password": DEMO_PASSWORD,
                    "name": f"{citizen.given_name} {citizen.family_name}",
                    "verification_level": citizen_store.verification_level(
                        session, citizen_id=citizen.id
                    ),
                    "totp_secret": DEMO_TOTP_SECRET_BASE32 if has_demo_totp else None,
                }
            )
    if json_output:
        common.print_json({"created_keys": created_keys, "logins": logins})
        return
    if created_keys:
        typer.echo(f"Created development signing keys: {', '.join(created_keys)}")
    typer.echo("Demo logins (document number / password):")
    for login in logins:
        authenticator = ", authenticator app set up" if login["totp_secret"] else ""
        typer.echo(
            f"  {login['username']:<14} {login['password']}  "
            f"{login['name']} (verification level {login['verification_level']}{authenticator})"
        )
    typer.echo(
        f"Demo authenticator secret (TOTP): {DEMO_TOTP_SECRET_BASE32}; "
        "the current code: idp demo totp-code"
    )


def seed_demo_totp(
    session: Session, *, citizen: Citizen, keys: SecondFactorKeys, now: datetime
) -> None:
    """Set up the public demo authenticator for a demo citizen, once."""
    if session.get(TotpCredential, citizen.id) is not None:
        return
    secret = base64.b32decode(DEMO_TOTP_SECRET_BASE32)
    session.add(
        TotpCredential(
            citizen_id=citizen.id,
            secret_encrypted=keys.seal(secret, citizen_id=citizen.id),
            created_at=now,
            confirmed_at=now,
        )
    )
    session.flush()


@app.command("totp-code")
def totp_code() -> None:
    """Print the current code of the demo authenticator (development only)."""
    if common.settings().is_production:
        common.fail("Demo data is refused in production mode.")
    typer.echo(code_at(base64.b32decode(DEMO_TOTP_SECRET_BASE32), utc_now()))
