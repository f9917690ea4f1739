"""SQLAlchemy 2 typed models: the whole schema of the provider.

The schema changes only through Alembic migrations in ``migrations/``; a test checks that these
models and the migrations agree.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.storage.base import Base
from idp.storage.types import UTCDateTime


class CitizenStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class KeyState(StrEnum):
    """Signing key lifecycle (see idp.signing_keys)."""

    NEXT = "next"
    CURRENT = "current"
    RETIRED = "retired"
    REVOKED = "revoked"


class KeyPurpose(StrEnum):
    """What a key in the key store is for; each purpose rotates on its own."""

    OIDC = "oidc"
    FEDERATION = "federation"
    SIGNATURE_CA = "signature_ca"


def _in(column: str, values: type[StrEnum]) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class Citizen(Base):
    """A citizen's account. The username is the national document number (normalised)."""

    __tablename__ = "citizen"
    __table_args__ = (
        UniqueConstraint("document_country", "document_type", "document_number"),
        CheckConstraint(_in("status", CitizenStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    document_type: Mapped[str] = mapped_column(String(20))
    document_country: Mapped[str] = mapped_column(String(2))
    document_number: Mapped[str] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birthdate: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    phone_number: Mapped[str | None] = mapped_column(String(32))
    phone_number_verified: Mapped[bool] = mapped_column(default=False)
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=CitizenStatus.ACTIVE)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    verifications: Mapped[list[IdentityVerification]] = relationship(
        back_populates="citizen", order_by="IdentityVerification.verified_at"
    )


class IdentityVerification(Base):
    """Evidence that an account belongs to a specific person (append-only).

    The account's verification level is the highest level among its records; the records keep
    how each was established (method, document, verifier, time) for ``verified_claims``.
    """

    __tablename__ = "identity_verification"
    __table_args__ = (CheckConstraint("level BETWEEN 0 AND 3", name="level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(40))
    document_type: Mapped[str | None] = mapped_column(String(20))
    document_number: Mapped[str | None] = mapped_column(String(40))
    issuing_country: Mapped[str | None] = mapped_column(String(2))
    verifier: Mapped[str] = mapped_column(String(200))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    citizen: Mapped[Citizen] = relationship(back_populates="verifications")


class BrowserSession(Base):
    """A browser's session. Only the SHA-256 of the cookie value is stored.

    Anonymous sessions (``citizen_id`` NULL) carry the CSRF token of the login form; at login the
    session id is rotated so that a fixed id cannot be planted before authentication.
    """

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    amr: Mapped[list[str] | None] = mapped_column(JSON)


class LoginFailureCounter(Base):
    """Failed logins per throttling key (``account:<username>`` or ``address:<ip>``).

    Lives in the database so that every worker sees the same counts.
    """

    __tablename__ = "login_failure_counter"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SigningKey(Base):
    """Metadata and state of a key in the key store; the private key is a file in keys/."""

    __tablename__ = "signing_key"
    __table_args__ = (
        CheckConstraint(_in("state", KeyState), name="state"),
        CheckConstraint(_in("purpose", KeyPurpose), name="purpose"),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(20), default=KeyPurpose.OIDC)
    state: Mapped[str] = mapped_column(String(10))
    file_name: Mapped[str] = mapped_column(String(200))
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activate_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(Text)
