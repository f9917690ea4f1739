"""The portal's side of the provider's signature service, as pure functions of explicit inputs.

- The document: a short sworn statement (text, UTF-8) with the citizen's name, document number
  and the date; its bytes are what the provider signs, through their SHA-256 hash.
- The request body of ``POST /signature/requests``: the citizen's ``sub`` (from the ID token),
  the document's name and hash, the format (``cades``: detached CAdES baseline B, a ``.p7s``
  file; ``jades``: compact detached JAdES baseline B, a ``.jws`` file), the portal's registered
  return address and a fresh ``state``.
- Reading what comes back: the request's status and signature, and the provider's verification
  report (``POST /signature/verify``) as plain facts the pages translate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

HASH_ALGORITHM = "SHA-256"
STATE_BYTES = 24
SIGNER_NAME_LABELS = {
    "serialNumber": NameOID.SERIAL_NUMBER,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
}
"""The labels the provider's report uses in ``signer_subject`` beyond RFC 4514's own."""


class SignatureFormat(StrEnum):
    CADES = "cades"
    JADES = "jades"


class RequestStatus(StrEnum):
    PENDING = "pending"
    SIGNED = "signed"
    REFUSED = "refused"
    EXPIRED = "expired"


class Revocation(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Declaration:
    """The document to sign: its file name and its text; ``content`` is what is hashed."""

    file_name: str
    text: str

    @property
    def content(self) -> bytes:
        return self.text.encode("utf-8")


def declaration(
    *,
    name: str,
    document_number: str | None,
    today: date,
    translate: Callable[..., str],
) -> Declaration:
    """The sworn statement of ``name`` on ``today``, in the language of ``translate``."""
    lines = [
        translate("sign.document.heading"),
        "",
        translate("sign.document.name", name=name),
    ]
    if document_number:
        lines.append(translate("sign.document.number", number=document_number))
    lines += [
        translate("sign.document.date", date=today.isoformat()),
        "",
        translate("sign.document.statement"),
        "",
    ]
    return Declaration(
        file_name=f"declaracion-jurada-{today.isoformat()}.txt", text="\n".join(lines)
    )


def signer_of(claims: Mapping[str, Any]) -> tuple[str, str | None]:
    """The citizen's name and document number, from the ID token's (and UserInfo's) claims."""
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(part for part in parts if isinstance(part, str) and part) or str(
            claims.get("sub", "")
        )
    number = claims.get("document_number")
    return name, number if isinstance(number, str) and number else None


def new_state() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def sha256_base64(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode("ascii")


def request_body(
    *,
    subject: str,
    document: Declaration,
    signature_format: SignatureFormat,
    redirect_uri: str,
    state: str,
) -> dict[str, Any]:
    """The JSON body of ``POST /signature/requests``."""
    return {
        "sub": subject,
        "documents": [
            {
                "name": document.file_name,
                "hash_algorithm": HASH_ALGORITHM,
                "hash": sha256_base64(document.content),
            }
        ],
        "signature_format": signature_format.value,
        "redirect_uri": redirect_uri,
        "state": state,
    }


def same_secret(expected: object, received: str | None) -> bool:
    """A constant-time comparison of a value kept in the session with one received."""
    if not isinstance(expected, str) or not expected or received is None:
        return False
    return secrets.compare_digest(expected.encode(), received.encode())


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """``GET /signature/requests/{id}``: the status, and the signature once there is one."""

    status: RequestStatus
    signature_format: SignatureFormat
    signature: str | None


def read_result(document: Mapping[str, Any]) -> SignatureResult:
    """The provider's result document; an unknown status or format raises ``ValueError``."""
    status = RequestStatus(document.get("status"))
    signature_format = SignatureFormat(document.get("signature_format"))
    signatures = document.get("signatures") or []
    value = signatures[0].get("signature") if signatures else None
    if status is RequestStatus.SIGNED and not isinstance(value, str):
        raise ValueError("a signed request without a signature")
    return SignatureResult(
        status=status,
        signature_format=signature_format,
        signature=value if isinstance(value, str) else None,
    )


@dataclass(frozen=True, slots=True)
class SignatureFile:
    """The signature as a file to download."""

    file_name: str
    media_type: str
    content: bytes


def signature_file(document: Declaration, result: SignatureResult) -> SignatureFile:
    """CAdES: the DER the provider sends in base64, as a ``.p7s`` (RFC 5751 3.2.1); JAdES: the
    compact JWS as it is, as a ``.jws`` (``application/jose``, RFC 7515 9.2.1)."""
    if result.signature is None:
        raise ValueError("no signature yet")
    stem = document.file_name.removesuffix(".txt")
    if result.signature_format is SignatureFormat.CADES:
        try:
            der = base64.b64decode(result.signature, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the CAdES signature is not base64") from None
        return SignatureFile(f"{stem}.p7s", "application/pkcs7-signature", der)
    return SignatureFile(f"{stem}.jws", "application/jose", result.signature.encode("ascii"))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The provider's verification report as plain facts; ``problems`` and ``notes`` are the
    provider's own sentences (English), shown as technical detail."""

    valid: bool
    integrity: bool
    chain_valid: bool
    revocation: Revocation
    signer_name: str | None
    signer_number: str | None
    signing_time: str | None
    format: str
    problems: list[str]
    notes: list[str]


def signer_name(subject: object) -> str | None:
    """The common name in the report's ``signer_subject`` (RFC 4514 with readable labels)."""
    if not isinstance(subject, str) or not subject:
        return None
    try:
        name = x509.Name.from_rfc4514_string(subject, SIGNER_NAME_LABELS)
    except ValueError:
        return None
    names = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def readable_time(value: object) -> str | None:
    """An ISO 8601 time of the report as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def read_report(report: Mapping[str, Any]) -> Verdict:
    """``POST /signature/verify``'s report (``idp.signature.verification``)."""
    revocation = report.get("revocation")
    return Verdict(
        valid=report.get("valid") is True,
        integrity=report.get("integrity") is True,
        chain_valid=report.get("chain_valid") is True,
        revocation=Revocation(revocation) if revocation in set(Revocation) else Revocation.UNKNOWN,
        signer_name=signer_name(report.get("signer_subject")),
        signer_number=report.get("signer_serial_number") or None,
        signing_time=readable_time(report.get("signing_time")),
        format=str(report.get("format", "")),
        problems=[str(problem) for problem in report.get("problems") or []],
        notes=[str(note) for note in report.get("notes") or []],
    )
