"""SQLAlchemy 2 typed models: the whole schema of the provider.

The schema changes only through Alembic migrations in ``migrations/``; a test checks that these
models and the migrations agree.
"""

from __future__ import annotations

import uuid
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


def _new_subject() -> str:
    return str(uuid.uuid4())


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
    subject: Mapped[str] = mapped_column(String(64), unique=True, default=_new_subject)
    """Public subject identifier (``sub``): random, stable, and not the document number."""
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
    evidence_type: Mapped[str] = mapped_column(
        String(30), default="document", server_default="document"
    )
    """OIDC for Identity Assurance evidence type: ``document``, ``electronic_record`` or
    ``electronic_signature``."""
    check_method: Mapped[str | None] = mapped_column(String(20))
    """How the evidence was checked (IDA predefined values: ``vpip``, ``vcrypt``, ``data``,
    ``kbv``, ``pvp``, ``vri``...)."""
    attributes: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """Extra evidence details (registry name and record, certificate issuer and serial, the
    document's expiry...), shown in ``verified_claims`` evidence."""

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
    auth_methods: Mapped[dict[str, int] | None] = mapped_column(JSON)
    """Authentication methods proven in this session -> Unix time of the latest proof; a
    second factor counts only for the step-up lifetime (``idp.assurance.session_strength``)."""
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    """OIDC session id (``sid`` claim): public, stable for the session, unlike its cookie."""
    federation: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """Set when the session was authenticated by a peer provider (cross-border login): the
    peer's issuer, the level its ``acr`` mapped to and the ``amr`` to pass on. Such a session
    has no local methods; its strength is that level."""


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


# OpenID Connect ------------------------------------------------------------------------------


class ClientAuthMethod(StrEnum):
    """Token endpoint authentication methods (OIDC Core 9, RFC 7591 2)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


class RegistrationType(StrEnum):
    """How a client came to be registered."""

    STATIC = "static"
    """By an operator (``idp clients``)."""
    AUTOMATIC = "automatic"
    """OpenID Federation 1.0 section 12.1: from the relying party's resolved Trust Chain, at
    its first authorization request (``idp.federation.registration``)."""


class OAuthClient(Base):
    """A relying party registered by an operator, or automatically from its OpenID Federation
    Trust Chain. Metadata names follow RFC 7591 / OIDC Dynamic Client Registration; the secret
    is stored only as a SHA-256 hash (it is 256 random bits, so a fast hash is enough and keeps
    the token endpoint fast)."""

    __tablename__ = "oauth_client"
    __table_args__ = (
        CheckConstraint(_in("token_endpoint_auth_method", ClientAuthMethod), name="auth_method"),
        CheckConstraint("subject_type IN ('public', 'pairwise')", name="subject_type"),
        CheckConstraint("application_type IN ('web', 'native')", name="application_type"),
        CheckConstraint(_in("registration_type", RegistrationType), name="registration_type"),
    )

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    application_type: Mapped[str] = mapped_column(String(10), default="web")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    jwks: Mapped[dict[str, object] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(String(10), default="public")
    sector_identifier: Mapped[str | None] = mapped_column(String(255))
    sector_identifier_uri: Mapped[str | None] = mapped_column(Text)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    userinfo_signed_response_alg: Mapped[str | None] = mapped_column(String(16))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(default=True)
    request_object_signing_alg: Mapped[str | None] = mapped_column(String(16))
    """The one algorithm this client signs request objects with (RFC 9101), when it said."""
    registration_type: Mapped[str] = mapped_column(
        String(16), default=RegistrationType.STATIC, server_default=RegistrationType.STATIC.value
    )
    registration_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Automatic registrations only: after this time the Trust Chain is resolved again before
    the client is used (the chain's expiry, capped by IDP_FEDERATION_CHAIN_CACHE_SECONDS)."""
    federation_trust_anchor: Mapped[str | None] = mapped_column(String(500))
    """Automatic registrations only: the Trust Anchor the chain was resolved through."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthorizationRequest(Base):
    """A validated authorization request waiting for the citizen (login, step-up, consent).

    Bound to the browser session that started it, so that its id in a URL is useless in
    another browser.
    """

    __tablename__ = "authorization_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_session_id: Mapped[int] = mapped_column(
        ForeignKey("browser_session.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_client.client_id", ondelete="CASCADE"))
    parameters: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Grant(Base):
    """One authorization a citizen gave a client: the root of its code, access and refresh
    tokens. Revoking the grant (code reuse, refresh token reuse, revocation, logout) makes
    every token issued under it invalid at once."""

    __tablename__ = "oauth_grant"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text)
    claims: Mapped[dict[str, object] | None] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    acr: Mapped[str | None] = mapped_column(String(100))
    amr: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 4.1.2), stored as a SHA-256 hash, single use."""

    __tablename__ = "authorization_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_grant.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefreshToken(Base):
    """A refresh token (stored hashed). Rotated on use; reuse of a rotated one revokes the
    grant (RFC 9700 4.14.2)."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_grant.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedAccessToken(Base):
    """Access tokens revoked before they expire (RFC 7009), by ``jti``; rows can be deleted
    once ``expires_at`` has passed."""

    __tablename__ = "revoked_access_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Consent(Base):
    """What a citizen agreed to share with a client; remembered until withdrawn."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("citizen_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON)
    claims: Mapped[list[str]] = mapped_column(JSON)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ClientAssertionJti(Base):
    """Replay cache of private_key_jwt assertions (RFC 7523 3, item 7): one use per jti."""

    __tablename__ = "client_assertion_jti"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class BackchannelLogoutDelivery(Base):
    """A logout token waiting to be POSTed to a client (OIDC Back-Channel Logout 1.0),
    retried with backoff by a background task, never on the citizen's request path."""

    __tablename__ = "backchannel_logout_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    logout_uri: Mapped[str] = mapped_column(Text)
    logout_token: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Assurance: second factors, the eID card, email proof, the civil registry ---------------------


class TotpCredential(Base):
    """A citizen's TOTP authenticator (RFC 6238). The secret is encrypted at rest; the last
    accepted time step is kept so that a code is never accepted twice."""

    __tablename__ = "totp_credential"

    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """NULL until the citizen has entered one correct code (enrolment not finished)."""
    last_used_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(Base):
    """Single-use recovery codes that stand in for the TOTP second factor (stored hashed)."""

    __tablename__ = "recovery_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CardChallenge(Base):
    """A random challenge the citizen's eID card must sign; single use, short-lived, bound to
    the browser session that asked for it."""

    __tablename__ = "card_challenge"

    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_session_id: Mapped[int] = mapped_column(
        ForeignKey("browser_session.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailVerificationCode(Base):
    """A code mailed to prove an email address (verification level 1), stored hashed."""

    __tablename__ = "email_verification_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """Mail the provider sent (development and tests read it here instead of an SMTP
    server; in production the same row records that a message was handed to SMTP)."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CivilRegistryRecord(Base):
    """The demo civil registry: sample citizens as a national registry would answer for them.
    A real deployment plugs its registry in through ``idp.assurance.registry.CivilRegistry``."""

    __tablename__ = "civil_registry_record"
    __table_args__ = (UniqueConstraint("document_country", "document_type", "document_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_country: Mapped[str] = mapped_column(String(2))
    document_type: Mapped[str] = mapped_column(String(20))
    document_number: Mapped[str] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birthdate: Mapped[date] = mapped_column(Date)
    nationality: Mapped[str] = mapped_column(String(2))
    document_expires_on: Mapped[date | None] = mapped_column(Date)
    deceased: Mapped[bool] = mapped_column(default=False)


# Advanced electronic signature ---------------------------------------------------------------


class SignatureCredentialStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class SignatureRequestStatus(StrEnum):
    """pending -> signed (approved and signed in one step) | refused (the citizen declined)."""

    PENDING = "pending"
    SIGNED = "signed"
    REFUSED = "refused"


class SignatureCredential(Base):
    """A citizen's signing key and certificate (issue of the provider's signing CA).

    The private key is stored wrapped under a key-encryption key derived from the key
    passphrase, which is never in the database: a copy of the database alone cannot sign.
    There is no export path; the key is unwrapped only to sign under a citizen's approval.
    """

    __tablename__ = "signature_credential"
    __table_args__ = (CheckConstraint(_in("status", SignatureCredentialStatus), name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=SignatureCredentialStatus.ACTIVE)
    certificate_pem: Mapped[str] = mapped_column(Text)
    certificate_serial: Mapped[str] = mapped_column(String(64), unique=True)
    """Hexadecimal: X.509 serial numbers are up to 159 bits, too big for an integer column."""
    wrapped_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignatureRequest(Base):
    """A relying party's request that a citizen sign one or more document hashes."""

    __tablename__ = "signature_request"
    __table_args__ = (CheckConstraint(_in("status", SignatureRequestStatus), name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(255))
    """The signer, as the relying party knows them: the ``sub`` of its ID tokens (pairwise or
    public). Only the citizen with that subject for this client can approve."""
    documents: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    """``[{"name", "hash_algorithm", "hash"}]``, the hash in base64url without padding."""
    signature_format: Mapped[str] = mapped_column(String(10))
    redirect_uri: Mapped[str] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default=SignatureRequestStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id", ondelete="SET NULL"))
    credential_id: Mapped[str | None] = mapped_column(
        ForeignKey("signature_credential.id", ondelete="SET NULL")
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signatures: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    """The results, one per document: ``{"name", "format", "signature"}`` (base64 or JWS)."""


class SignatureAuthorisation(Base):
    """The signature activation data (SAD): a single-use authorisation from the citizen to
    sign exactly the hashes of one request with one credential, valid for minutes.

    ``hashes_digest`` binds it to the hash list; the row is consumed by a conditional UPDATE,
    so a replay, a retry or a second worker can never sign twice or sign other data.
    """

    __tablename__ = "signature_authorisation"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("signature_request.id", ondelete="CASCADE"), unique=True
    )
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(
        ForeignKey("signature_credential.id", ondelete="CASCADE")
    )
    hashes_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Audit ---------------------------------------------------------------------------------------


class AuditHead(Base):
    """The end of the audit chain: one row, updated in the same transaction as every append,
    so that appends from all workers form one sequence (the UPDATE serialises them)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditRecord(Base):
    """An append-only audit record, hash-chained to the previous one: ``record_hash`` is the
    SHA-256 of the previous hash and this record's canonical JSON, so that changing, removing
    or reordering a record breaks every hash after it (``idp audit verify``)."""

    __tablename__ = "audit_record"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    event: Mapped[str] = mapped_column(String(60), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    citizen_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """Not a foreign key: the audit outlives deleted accounts."""
    client_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, object]] = mapped_column(JSON)
    previous_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


# OpenID Federation ---------------------------------------------------------------------------


class SubordinateStatus(StrEnum):
    """A Trust Anchor's record of a Subordinate: ``removed`` ones get no statement any more."""

    ACTIVE = "active"
    REMOVED = "removed"


class FederationSubordinate(Base):
    """An Immediate Subordinate of this Trust Anchor (OpenID Federation 1.0 section 3.1.3):
    what the fetch endpoint states about it (its Federation Entity Keys, metadata policy and
    constraints) and what the list endpoint lists."""

    __tablename__ = "federation_subordinate"
    __table_args__ = (CheckConstraint(_in("status", SubordinateStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(500), unique=True)
    jwks: Mapped[dict[str, object]] = mapped_column(JSON)
    metadata_policy: Mapped[dict[str, object]] = mapped_column(JSON)
    constraints: Mapped[dict[str, object]] = mapped_column(JSON)
    metadata_override: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """``metadata`` of the Subordinate Statement (section 6.1.4.2), when the superior sets any."""
    entity_types: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=SubordinateStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Cross-border login --------------------------------------------------------------------------


class CrossBorderStatus(StrEnum):
    SENT = "sent"
    """The citizen was sent to the peer; waiting for its answer at the callback."""
    ANSWERED = "answered"
    """The peer's answer was checked; waiting for the citizen's consent."""


class CrossBorderLogin(Base):
    """A cross-border login in progress (``idp.federation.crossborder.flow``), bound to one
    browser session. The row is keyed by the SHA-256 of the ``state`` sent to the peer (the
    state itself is not stored) and deleted when the login ends, whatever the outcome."""

    __tablename__ = "crossborder_login"
    __table_args__ = (CheckConstraint(_in("status", CrossBorderStatus), name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_session_id: Mapped[int] = mapped_column(
        ForeignKey("browser_session.id", ondelete="CASCADE"), index=True
    )
    authorization_request_id: Mapped[str] = mapped_column(String(64))
    peer_issuer: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(128))
    requested_level: Mapped[int] = mapped_column(Integer)
    acr_values: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default=CrossBorderStatus.SENT)
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """After the callback: the minimum data set, the mapped level, the peer's ``amr`` and
    authentication time: what the consent page shows and the login then records."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class FederatedIdentity(Base):
    """The account of a citizen of another country who logged in through a peer provider:
    the link from the person identifier (``ORIGIN/DESTINATION/opaque``, a keyed hash of the
    peer's issuer and ``sub``) to the local account. Such accounts have no password."""

    __tablename__ = "federated_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizen.id", ondelete="CASCADE"), unique=True
    )
    person_identifier: Mapped[str] = mapped_column(String(64), unique=True)
    peer_issuer: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime())
