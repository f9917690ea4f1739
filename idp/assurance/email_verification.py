"""Proving an email address with a mailed code (verification level 1).

A 6-digit code is mailed; only its SHA-256 (bound to the account and the address) is stored.
It lives 15 minutes, allows 5 attempts and is used once: the attempt counter and the use are
conditional UPDATEs, so two concurrent submissions cannot both pass (NIST SP 800-63B 5.1.3.2
asks for a limited lifetime and rate-limited attempts for out-of-band secrets). Asking for a new
code voids the previous one, and at most ``MAX_CODES_PER_HOUR`` are mailed per account.

A correct code sets ``citizen.email`` and ``email_verified``, and records level 1 evidence
(``email``, ``electronic_record``, ``data``) when the account is below level 1.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp.assurance.enrolment import (
    EMAIL_LEVEL,
    CheckMethod,
    EvidenceType,
    VerificationMethod,
    record_evidence,
)
from idp.assurance.mail import Mailer, MailMessage
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, EmailVerificationCode
from idp.web.i18n import Translator

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 5
MAX_EMAIL_LENGTH = 320
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CODE = re.compile(r"[0-9]{6}")


class EmailError(StrEnum):
    """Why an address or a request for a code was refused (message keys ``verify.email.*``)."""

    INVALID_ADDRESS = "invalid_address"
    TOO_MANY_CODES = "too_many_codes"


class EmailVerificationRefused(ValueError):
    def __init__(self, reason: EmailError) -> None:
        super().__init__(reason.value)
        self.reason = reason


class CodeOutcome(StrEnum):
    CONFIRMED = "confirmed"
    MALFORMED = "malformed"
    WRONG_CODE = "wrong_code"
    NO_CODE = "no_code"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    outcome: CodeOutcome
    attempts_left: int = 0
    email: str | None = None


def normalise_email(raw: str) -> str:
    """The address as typed, trimmed; refused unless it looks like one (the mailed code is the
    real test)."""
    email = raw.strip()
    if (
        not email
        or len(email) > MAX_EMAIL_LENGTH
        or not _EMAIL.fullmatch(email)
        or any(unicodedata.category(char) == "Cc" for char in email)
    ):
        raise EmailVerificationRefused(EmailError.INVALID_ADDRESS)
    return email


def normalise_code(raw: str) -> str | None:
    """The six digits as typed ("123 456" and "123-456" are fine), or None."""
    code = re.sub(r"[\s\-]", "", raw)
    return code if _CODE.fullmatch(code) else None


def code_hash(*, citizen_id: int, email: str, code: str) -> str:
    """Bound to the account and the address: a code proves only the address it was sent to."""
    return hashlib.sha256(f"{citizen_id}\x00{email}\x00{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def pending_code(session: Session, *, citizen: Citizen) -> EmailVerificationCode | None:
    """The newest unused code of the account (expired or not)."""
    return session.scalars(
        select(EmailVerificationCode)
        .where(
            EmailVerificationCode.citizen_id == citizen.id,
            EmailVerificationCode.used_at.is_(None),
        )
        .order_by(EmailVerificationCode.created_at.desc(), EmailVerificationCode.id.desc())
        .limit(1)
    ).one_or_none()


def start_email_verification(
    session: Session,
    *,
    citizen: Citizen,
    email: str,
    mailer: Mailer,
    language: str,
    now: datetime,
    code: str | None = None,
) -> EmailVerificationCode:
    """Void the account's earlier codes, store a new one and mail it."""
    address = normalise_email(email)
    recent = session.scalar(
        select(func.count())
        .select_from(EmailVerificationCode)
        .where(
            EmailVerificationCode.citizen_id == citizen.id,
            EmailVerificationCode.created_at > now - timedelta(hours=1),
        )
    )
    if int(recent or 0) >= MAX_CODES_PER_HOUR:
        raise EmailVerificationRefused(EmailError.TOO_MANY_CODES)
    session.execute(
        update(EmailVerificationCode)
        .where(
            EmailVerificationCode.citizen_id == citizen.id,
            EmailVerificationCode.used_at.is_(None),
            EmailVerificationCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = code or new_code()
    row = EmailVerificationCode(
        citizen_id=citizen.id,
        email=address,
        code_hash=code_hash(citizen_id=citizen.id, email=address, code=code),
        attempts=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
        used_at=None,
    )
    session.add(row)
    session.flush()
    translate = Translator(language)
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    mailer.send(
        session,
        MailMessage(
            recipient=address,
            subject=translate("verify.mail.subject"),
            body=translate("verify.mail.body", name=citizen.given_name, code=code, minutes=minutes),
        ),
        now=now,
    )
    return row


def confirm_email_code(
    session: Session, *, citizen: Citizen, code: str, now: datetime
) -> CodeCheck:
    """Check a typed code: count the attempt, then use the code once if it is right."""
    typed = normalise_code(code)
    if typed is None:
        return CodeCheck(CodeOutcome.MALFORMED)
    row = pending_code(session, citizen=citizen)
    if row is None:
        return CodeCheck(CodeOutcome.NO_CODE)
    if row.expires_at <= now:
        return CodeCheck(CodeOutcome.EXPIRED)
    counted = session.execute(
        update(EmailVerificationCode)
        .where(
            EmailVerificationCode.id == row.id,
            EmailVerificationCode.used_at.is_(None),
            EmailVerificationCode.attempts < MAX_ATTEMPTS,
        )
        .values(attempts=EmailVerificationCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        return CodeCheck(CodeOutcome.TOO_MANY_ATTEMPTS)
    session.refresh(row)
    expected = code_hash(citizen_id=citizen.id, email=row.email, code=typed)
    if not hmac.compare_digest(expected, row.code_hash):
        left = max(0, MAX_ATTEMPTS - row.attempts)
        if left == 0:
            return CodeCheck(CodeOutcome.TOO_MANY_ATTEMPTS)
        return CodeCheck(CodeOutcome.WRONG_CODE, attempts_left=left)
    used = session.execute(
        update(EmailVerificationCode)
        .where(EmailVerificationCode.id == row.id, EmailVerificationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return CodeCheck(CodeOutcome.NO_CODE)  # used by a concurrent request a moment ago
    citizen.email = row.email
    citizen.email_verified = True
    citizen.updated_at = now
    if citizen_store.verification_level(session, citizen_id=citizen.id) < EMAIL_LEVEL:
        record_evidence(
            session,
            citizen=citizen,
            level=EMAIL_LEVEL,
            method=VerificationMethod.EMAIL,
            evidence_type=EvidenceType.ELECTRONIC_RECORD,
            check_method=CheckMethod.DATA,
            verifier="email code",
            now=now,
            with_document=False,
            attributes={"email": row.email, "record_type": "email_address"},
        )
    session.flush()
    return CodeCheck(CodeOutcome.CONFIRMED, email=row.email)
