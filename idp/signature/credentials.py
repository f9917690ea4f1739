"""Citizens' signing credentials: enrolment, revocation and the CA's revocation list.

A credential is a P-256 key pair generated and held by the provider, wrapped under the
key-encryption key (``idp.signature.custody``), and a certificate from the provider's signing
CA naming the citizen (names, country and ``serialNumber`` ``IDC<country>-<document number>``,
the ETSI EN 319 412-1 form for a national identity card number). Enrolment needs an explicit
consent and a verification level of at least ``signature_min_verification_level``: an advanced
signature must be uniquely linked to, and capable of identifying, a real person.

A citizen has at most one active credential; revoking it (at any time, from the account page)
ends it for good, and the CRL at ``CRL_PATH`` lists it from then on.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.config import Settings
from idp.oidc import endpoints
from idp.signature.authority import SignatureAuthority
from idp.signature.custody import generate_citizen_key
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, SignatureCredential, SignatureCredentialStatus

CRL_PATH = endpoints.SIGNATURE_CRL
CA_CERTIFICATE_PATH = endpoints.SIGNATURE_CA
BACKDATE = timedelta(minutes=5)
"""Certificates start a little in the past so that a verifier's clock behind ours accepts them."""
CRL_LIFETIME = timedelta(days=1)


class EnrolmentRefused(Exception):
    """Enrolment cannot go on; ``code`` names the reason for the citizen's page."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def crl_url(settings: Settings) -> str:
    return endpoints.absolute(settings.issuer, CRL_PATH)


def certificate_serial_number(citizen: Citizen) -> str:
    """The subject ``serialNumber``: ``IDC<country>-<document number>``."""
    return f"IDC{citizen.document_country}-{citizen.document_number}"


def active_credential(
    session: Session, *, citizen_id: int, now: datetime
) -> SignatureCredential | None:
    return session.scalars(
        select(SignatureCredential)
        .where(
            SignatureCredential.citizen_id == citizen_id,
            SignatureCredential.status == SignatureCredentialStatus.ACTIVE,
            SignatureCredential.not_after > now,
        )
        .order_by(SignatureCredential.created_at.desc())
        .limit(1)
    ).first()


def credentials_of(session: Session, *, citizen_id: int) -> list[SignatureCredential]:
    return list(
        session.scalars(
            select(SignatureCredential)
            .where(SignatureCredential.citizen_id == citizen_id)
            .order_by(SignatureCredential.created_at.desc())
        )
    )


def may_enrol(session: Session, *, citizen: Citizen, settings: Settings) -> bool:
    level = citizen_store.verification_level(session, citizen_id=citizen.id)
    return level >= settings.signature_min_verification_level


def enrol(
    session: Session,
    *,
    citizen: Citizen,
    consented: bool,
    authority: SignatureAuthority,
    settings: Settings,
    now: datetime,
) -> SignatureCredential:
    """Create the citizen's key pair and certificate, after every check has passed."""
    if not consented:
        raise EnrolmentRefused("consent_required")
    if not authority.available():
        raise EnrolmentRefused("unavailable")
    if not may_enrol(session, citizen=citizen, settings=settings):
        raise EnrolmentRefused("level_too_low")
    if active_credential(session, citizen_id=citizen.id, now=now) is not None:
        raise EnrolmentRefused("already_enrolled")
    ca = authority.ca()
    credential_id = "cred_" + secrets.token_urlsafe(24)
    private_key = generate_citizen_key()
    certificate = ca.issue_certificate(
        private_key.public_key(),
        given_name=citizen.given_name,
        family_name=citizen.family_name,
        serial_number=certificate_serial_number(citizen),
        country=citizen.document_country,
        crl_url=crl_url(settings),
        not_before=now - BACKDATE,
        not_after=now + timedelta(days=settings.signature_certificate_days),
    )
    wrapped = authority.kek().wrap(private_key, credential_id=credential_id)
    credential = SignatureCredential(
        id=credential_id,
        citizen_id=citizen.id,
        status=SignatureCredentialStatus.ACTIVE,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        certificate_serial=format(certificate.serial_number, "x"),
        wrapped_key=base64.b64encode(wrapped).decode("ascii"),
        created_at=now,
        not_after=certificate.not_valid_after_utc,
        consented_at=now,
    )
    session.add(credential)
    session.flush()
    audit_log.append(
        session,
        event=AuditEvent.SIGNATURE_CREDENTIAL_ISSUED,
        actor=f"citizen:{citizen.id}",
        now=now,
        citizen_id=citizen.id,
        details={"credential": credential_id, "certificate_serial": credential.certificate_serial},
    )
    return credential


def revoke(session: Session, *, citizen_id: int, credential_id: str, now: datetime) -> bool:
    """Revoke one of the citizen's active credentials; False when there is none to revoke
    (another citizen's, unknown, or revoked already)."""
    result = session.execute(
        update(SignatureCredential)
        .where(
            SignatureCredential.id == credential_id,
            SignatureCredential.citizen_id == citizen_id,
            SignatureCredential.status == SignatureCredentialStatus.ACTIVE,
        )
        .values(status=SignatureCredentialStatus.REVOKED, revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit_log.append(
        session,
        event=AuditEvent.SIGNATURE_CREDENTIAL_REVOKED,
        actor=f"citizen:{citizen_id}",
        now=now,
        citizen_id=citizen_id,
        details={"credential": credential_id},
    )
    return True


def certificate_of(credential: SignatureCredential) -> x509.Certificate:
    return x509.load_pem_x509_certificate(credential.certificate_pem.encode("ascii"))


def revocation_lookup(session: Session) -> Callable[[int], datetime | None]:
    """``serial -> revocation time`` from the credentials table (what the CRL says, live)."""

    def revoked_at(serial: int) -> datetime | None:
        return session.scalars(
            select(SignatureCredential.revoked_at).where(
                SignatureCredential.certificate_serial == format(serial, "x"),
                SignatureCredential.status == SignatureCredentialStatus.REVOKED,
            )
        ).first()

    return revoked_at


def current_crl(
    session: Session, *, authority: SignatureAuthority, now: datetime
) -> x509.CertificateRevocationList:
    """The CA's CRL now: every revoked credential, valid for ``CRL_LIFETIME``."""
    rows = session.execute(
        select(SignatureCredential.certificate_serial, SignatureCredential.revoked_at).where(
            SignatureCredential.status == SignatureCredentialStatus.REVOKED
        )
    ).all()
    revoked = [(int(serial, 16), revoked_at) for serial, revoked_at in rows if revoked_at]
    return authority.ca().build_crl(revoked, this_update=now, next_update=now + CRL_LIFETIME)
