"""Relying parties' signature requests: validation, creation and the result they fetch.

A request names the signer (the ``sub`` the relying party knows them by), one to
``MAX_DOCUMENTS`` documents (a name shown to the citizen, a hash algorithm among SHA-256/384/512
and the hash with its exact length), the format (``cades``: detached CAdES baseline B, or
``jades``: compact detached JAdES baseline B), a ``redirect_uri`` registered for the client
(exact match) and an optional ``state``. Nothing is signed here: the citizen approves first
(``idp.signature.activation``).
"""

from __future__ import annotations

import base64
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from idp.errors import InvalidRequest
from idp.signature.digests import DigestError, parse_digest
from idp.storage.models import OAuthClient, SignatureRequest, SignatureRequestStatus

MAX_DOCUMENTS = 20
MAX_NAME_LENGTH = 200
MAX_STATE_LENGTH = 500
MAX_SUBJECT_LENGTH = 255
FORMATS = ("cades", "jades")
REQUEST_FIELDS = frozenset({"sub", "documents", "signature_format", "redirect_uri", "state"})
DOCUMENT_FIELDS = frozenset({"name", "hash_algorithm", "hash"})


@dataclass(frozen=True, slots=True)
class DocumentToSign:
    name: str
    hash_algorithm: str
    digest: bytes

    def as_row(self) -> dict[str, str]:
        return {
            "name": self.name,
            "hash_algorithm": self.hash_algorithm,
            "hash": base64.urlsafe_b64encode(self.digest).rstrip(b"=").decode("ascii"),
        }

    @classmethod
    def from_row(cls, row: dict[str, str]) -> DocumentToSign:
        value = row["hash"]
        digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return cls(name=row["name"], hash_algorithm=row["hash_algorithm"], digest=digest)


@dataclass(frozen=True, slots=True)
class NewSignatureRequest:
    subject: str
    documents: tuple[DocumentToSign, ...]
    signature_format: str
    redirect_uri: str
    state: str | None


def _text(value: object, *, field: str, limit: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field} must be a non-empty string.")
    if len(value) > limit:
        raise InvalidRequest(f"{field} is longer than {limit} characters.")
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise InvalidRequest(f"{field} contains control characters.")
    return value


def _document(value: object, index: int) -> DocumentToSign:
    if not isinstance(value, dict):
        raise InvalidRequest(f"documents[{index}] must be an object.")
    unknown = set(value) - DOCUMENT_FIELDS
    if unknown:
        raise InvalidRequest(
            f"documents[{index}] has unknown members: {', '.join(sorted(unknown))}."
        )
    name = _text(value.get("name"), field=f"documents[{index}].name", limit=MAX_NAME_LENGTH)
    algorithm = value.get("hash_algorithm")
    digest_value = value.get("hash")
    if not isinstance(algorithm, str) or not isinstance(digest_value, str):
        raise InvalidRequest(f"documents[{index}] needs hash_algorithm and hash as strings.")
    try:
        digest = parse_digest(algorithm, digest_value)
    except DigestError as exc:
        raise InvalidRequest(f"documents[{index}]: {exc}") from None
    return DocumentToSign(name=str(name), hash_algorithm=algorithm.upper(), digest=digest)


def parse_new_request(body: object, *, client: OAuthClient) -> NewSignatureRequest:
    """Validate a request body (JSON object) from ``client``; ``InvalidRequest`` names the
    first problem precisely."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = set(body) - REQUEST_FIELDS
    if unknown:
        raise InvalidRequest(f"Unknown members: {', '.join(sorted(unknown))}.")
    subject = _text(body.get("sub"), field="sub", limit=MAX_SUBJECT_LENGTH)
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise InvalidRequest("documents must be a non-empty list.")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidRequest(f"At most {MAX_DOCUMENTS} documents per request.")
    parsed = tuple(_document(document, index) for index, document in enumerate(documents))
    signature_format = body.get("signature_format", "cades")
    if signature_format not in FORMATS:
        raise InvalidRequest(f"signature_format must be one of: {', '.join(FORMATS)}.")
    redirect_uri = body.get("redirect_uri")
    if not isinstance(redirect_uri, str) or redirect_uri not in client.redirect_uris:
        raise InvalidRequest("redirect_uri must be one of the client's registered redirect URIs.")
    state = _text(body.get("state"), field="state", limit=MAX_STATE_LENGTH, required=False)
    return NewSignatureRequest(
        subject=str(subject),
        documents=parsed,
        signature_format=signature_format,
        redirect_uri=redirect_uri,
        state=state,
    )


def new_request_id() -> str:
    """``sig.`` and 256 random bits (see ``idp.accounts.continuation``)."""
    return "sig." + secrets.token_urlsafe(32)


def create_request(
    session: Session,
    *,
    client: OAuthClient,
    new: NewSignatureRequest,
    ttl: timedelta,
    now: datetime,
) -> SignatureRequest:
    row = SignatureRequest(
        id=new_request_id(),
        client_id=client.client_id,
        subject=new.subject,
        documents=[document.as_row() for document in new.documents],
        signature_format=new.signature_format,
        redirect_uri=new.redirect_uri,
        state=new.state,
        status=SignatureRequestStatus.PENDING,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return row


def documents_of(request: SignatureRequest) -> tuple[DocumentToSign, ...]:
    return tuple(DocumentToSign.from_row(row) for row in request.documents)


def is_open(request: SignatureRequest, *, now: datetime) -> bool:
    return request.status == SignatureRequestStatus.PENDING and request.expires_at > now


def status_of(request: SignatureRequest, *, now: datetime) -> str:
    if request.status == SignatureRequestStatus.PENDING and request.expires_at <= now:
        return "expired"
    return request.status


def result_document(request: SignatureRequest, *, now: datetime) -> dict[str, Any]:
    """What the relying party fetches: the status and, once signed, the signatures."""
    body: dict[str, Any] = {
        "request_id": request.id,
        "status": status_of(request, now=now),
        "signature_format": request.signature_format,
        "documents": list(request.documents),
    }
    if request.signatures:
        body["signatures"] = list(request.signatures)
        body["completed_at"] = (
            int(request.completed_at.timestamp()) if request.completed_at else None
        )
    return body
