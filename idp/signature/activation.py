"""The citizen's approval and the signing it activates (sole control, SCAL2 style).

Approval is allowed only to the citizen the request names, on a session whose strongest proof
(``signature_auth_strength``: 3 = eID card, 2 = password and TOTP) is at most
``signature_auth_max_age_seconds`` old, with an active credential. It yields signature
activation data (SAD): a random single-use secret whose row binds it to the request, the
citizen, the credential and a digest of exactly the hashes approved.

``sign_hashes`` is the only path to a citizen's private key. It consumes the SAD with one
conditional UPDATE that also requires the same hash digest, so an expired, replayed or
re-targeted authorisation signs nothing, whatever worker receives it; the key is unwrapped
only after that, the certificate must be active and unrevoked, and every signature is written
to the audit log. Only one SAD can exist per request (a unique column), so a double
submission or a retry of the approval never produces two signatures.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.assurance.methods import AuthMethod, strength_of
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.signature.authority import SignatureAuthority
from idp.signature.cades import build_detached_cades
from idp.signature.credentials import certificate_of
from idp.signature.jades import build_detached_jades
from idp.signature.requests import DocumentToSign
from idp.storage.models import (
    SignatureAuthorisation,
    SignatureCredential,
    SignatureCredentialStatus,
    SignatureRequest,
    SignatureRequestStatus,
)

SAD_TTL = timedelta(minutes=2)
"""The SAD is consumed right after approval; the margin only covers a slow signing."""


class SigningRefused(Exception):
    """Nothing was signed; ``code`` names why (for the page and the logs, never a secret)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class SignedDocument:
    name: str
    signature_format: str
    signature: str
    """Base64 DER for CAdES, the compact JWS for JAdES."""

    def as_row(self) -> dict[str, str]:
        return {"name": self.name, "format": self.signature_format, "signature": self.signature}


def fresh_strength(methods: Mapping[str, int] | None, *, now: datetime, max_age: timedelta) -> int:
    """The strength proven within ``max_age``: the login's password counts as long as the
    session stands, every stronger method only when its proof is that recent."""
    if not methods:
        return 0
    since = int((now - max_age).timestamp())
    fresh = {
        method
        for method in AuthMethod
        if isinstance(methods.get(method.value), int) and methods[method.value] >= since
    }
    if AuthMethod.PASSWORD.value in methods:
        fresh.add(AuthMethod.PASSWORD)
    return strength_of(fresh)


def hashes_digest(documents: Sequence[DocumentToSign]) -> str:
    """SHA-256 over the canonical list of (algorithm, hash): what a SAD is bound to."""
    canonical = json.dumps(
        [[document.hash_algorithm, document.digest.hex()] for document in documents],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _sad_hash(sad: str) -> str:
    return hashlib.sha256(sad.encode("ascii")).hexdigest()


def authorise(
    session: Session,
    *,
    request: SignatureRequest,
    citizen_id: int,
    credential: SignatureCredential,
    documents: Sequence[DocumentToSign],
    now: datetime,
) -> str | None:
    """Create the request's SAD and return it; None when the request already has one (a
    double submission: the first one signs, this one must not)."""
    sad = secrets.token_urlsafe(32)
    row = SignatureAuthorisation(
        id_hash=_sad_hash(sad),
        request_id=request.id,
        citizen_id=citizen_id,
        credential_id=credential.id,
        hashes_digest=hashes_digest(documents),
        created_at=now,
        expires_at=now + SAD_TTL,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return sad


def _consume(session: Session, *, sad: str, digest: str, now: datetime) -> tuple[str, str, int]:
    consumed = session.execute(
        update(SignatureAuthorisation)
        .where(
            SignatureAuthorisation.id_hash == _sad_hash(sad),
            SignatureAuthorisation.used_at.is_(None),
            SignatureAuthorisation.expires_at > now,
            SignatureAuthorisation.hashes_digest == digest,
        )
        .values(used_at=now)
        .returning(
            SignatureAuthorisation.request_id,
            SignatureAuthorisation.credential_id,
            SignatureAuthorisation.citizen_id,
        )
    ).one_or_none()
    if consumed is None:
        raise SigningRefused("authorisation_invalid")
    return consumed.request_id, consumed.credential_id, consumed.citizen_id


def sign_hashes(
    session: Session,
    *,
    sad: str,
    documents: Sequence[DocumentToSign],
    signature_format: str,
    authority: SignatureAuthority,
    now: datetime,
) -> tuple[SignatureRequest, list[SignedDocument]]:
    """Consume ``sad`` for exactly ``documents`` and sign them; ``SigningRefused`` otherwise.

    Call it in the transaction that will be rolled back if it raises: the SAD stays consumed
    only with the signatures it produced.
    """
    request_id, credential_id, citizen_id = _consume(
        session, sad=sad, digest=hashes_digest(documents), now=now
    )
    request = session.get(SignatureRequest, request_id)
    credential = session.get(SignatureCredential, credential_id)
    if request is None or credential is None or request.status != SignatureRequestStatus.PENDING:
        raise SigningRefused("authorisation_invalid")
    if credential.status != SignatureCredentialStatus.ACTIVE or credential.not_after <= now:
        raise SigningRefused("certificate_revoked")
    certificate = certificate_of(credential)
    private_key = authority.kek().unwrap(
        base64.b64decode(credential.wrapped_key), credential_id=credential.id
    )
    chain = [authority.ca().certificate]
    signed: list[SignedDocument] = []
    for document in documents:
        if signature_format == "jades":
            value = build_detached_jades(
                digest=document.digest,
                digest_algorithm=document.hash_algorithm,
                document_name=document.name,
                private_key=private_key,
                certificate=certificate,
                chain=chain,
                signing_time=now,
            )
        else:
            der = build_detached_cades(
                digest=document.digest,
                digest_algorithm=document.hash_algorithm,
                private_key=private_key,
                certificate=certificate,
                chain=chain,
                signing_time=now,
            )
            value = base64.b64encode(der).decode("ascii")
        signed.append(SignedDocument(document.name, signature_format, value))
        audit_log.append(
            session,
            event=AuditEvent.SIGNATURE_CREATED,
            actor=f"citizen:{citizen_id}",
            now=now,
            citizen_id=citizen_id,
            client_id=request.client_id,
            details={
                "request": request.id,
                "document": document.name,
                "hash_algorithm": document.hash_algorithm,
                "hash": document.digest.hex(),
                "format": signature_format,
                "certificate_serial": credential.certificate_serial,
            },
        )
    request.status = SignatureRequestStatus.SIGNED
    request.citizen_id = citizen_id
    request.credential_id = credential.id
    request.completed_at = now
    request.signatures = [document.as_row() for document in signed]
    session.flush()
    return request, signed
