"""Creating and administering citizen accounts (operator CLI and demo seeding).

Validation happens before anything is written; a refused request changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from idp.accounts.documents import DocumentError, parse_document
from idp.accounts.passwords import PasswordHasher, check_password_policy
from idp.config import SUPPORTED_LANGUAGES
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, CitizenStatus

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")  # E.164
MAX_NAME_LENGTH = 200


class AccountError(ValueError):
    """An account operation was refused; the message is one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class NewCitizen:
    document_number: str
    given_name: str
    family_name: str
    document_type: str = "ci"
    document_country: str = "UY"
    birthdate: str | None = None
    email: str | None = None
    phone_number: str | None = None
    preferred_language: str | None = None
    verification_level: int = 0


def parse_birthdate(raw: str | None, *, today: date) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise AccountError(
            f"The birthdate {raw!r} is not a valid date in the form YYYY-MM-DD."
        ) from None
    if value > today:
        raise AccountError("The birthdate must not be in the future.")
    if value.year < 1880:
        raise AccountError("The birthdate is implausibly early.")
    return value


def _clean_name(value: str, field: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise AccountError(f"The {field} must not be empty.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise AccountError(f"The {field} must have at most {MAX_NAME_LENGTH} characters.")
    if _has_control_characters(cleaned):
        raise AccountError(f"The {field} must not contain control characters.")
    return cleaned


def _has_control_characters(value: str) -> bool:
    """C0, DEL and C1 (Unicode category Cc): never part of a name, and NUL breaks PostgreSQL."""
    return any(unicodedata.category(char) == "Cc" for char in value)


def create_citizen(
    session: Session,
    *,
    request: NewCitizen,
    password: str,
    hasher: PasswordHasher,
    now: datetime,
    verifier: str = "operator",
) -> Citizen:
    """Validate everything, then create the account (and its verification record, if any)."""
    try:
        document = parse_document(
            number=request.document_number,
            document_type=request.document_type,
            country=request.document_country,
        )
    except DocumentError as exc:
        raise AccountError(str(exc)) from None
    given_name = _clean_name(request.given_name, "given name")
    family_name = _clean_name(request.family_name, "family name")
    birthdate = parse_birthdate(request.birthdate, today=now.date())
    email = (request.email or "").strip() or None
    if email is not None and (
        len(email) > 320 or not _EMAIL.fullmatch(email) or _has_control_characters(email)
    ):
        raise AccountError(f"The email address {email!r} is not valid.")
    phone = (request.phone_number or "").replace(" ", "") or None
    if phone is not None and not _PHONE.fullmatch(phone):
        raise AccountError("The phone number must be in international form, such as +59899123456.")
    language = request.preferred_language
    if language is not None and language not in SUPPORTED_LANGUAGES:
        raise AccountError(f"The language must be one of {', '.join(SUPPORTED_LANGUAGES)}.")
    if not 0 <= request.verification_level <= 3:
        raise AccountError("The verification level must be 0, 1, 2 or 3.")
    try:
        check_password_policy(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if citizen_store.find_by_username(session, username=document.username) is not None:
        raise AccountError(f"An account with the username {document.username} already exists.")

    citizen = citizen_store.add_citizen(
        session,
        username=document.username,
        document_type=document.type,
        document_country=document.country,
        document_number=document.number,
        given_name=given_name,
        family_name=family_name,
        birthdate=birthdate,
        email=email,
        phone_number=phone,
        preferred_language=language,
        password_hash=hasher.hash(password),
        now=now,
    )
    if request.verification_level > 0:
        citizen_store.add_verification(
            session,
            citizen=citizen,
            level=request.verification_level,
            method="in_person" if request.verification_level >= 2 else "operator",
            verifier=verifier,
            now=now,
            document_type=document.type,
            document_number=document.number,
            issuing_country=document.country,
            note="Recorded by an operator when the account was created.",
        )
    return citizen


def require_citizen(session: Session, *, username: str) -> Citizen:
    """The account for a username as typed (normalised), or an ``AccountError``."""
    from idp.accounts.documents import normalise_document_number

    citizen = citizen_store.find_by_username(session, username=normalise_document_number(username))
    if citizen is None:
        raise AccountError(f"No account has the username {username!r}.")
    return citizen


def set_status(citizen: Citizen, *, status: CitizenStatus, now: datetime) -> bool:
    """Change the account's status; False when it already had it."""
    if citizen.status == status:
        return False
    citizen.status = status
    citizen.updated_at = now
    return True


def set_password(citizen: Citizen, *, password: str, hasher: PasswordHasher, now: datetime) -> None:
    try:
        check_password_policy(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    citizen.password_hash = hasher.hash(password)
    citizen.updated_at = now
