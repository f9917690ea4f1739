"""Grants, authorization codes, refresh tokens and revoked access tokens.

Codes and refresh tokens are stored as SHA-256 hashes and consumed with a single conditional
UPDATE (``... WHERE consumed_at IS NULL``), which is atomic on SQLite and on PostgreSQL under its
default isolation: of any number of parallel redemptions exactly one sees ``rowcount == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.storage.models import (
    AuthorizationCode,
    Grant,
    RefreshToken,
    RevokedAccessToken,
)


def add_grant(session: Session, *, grant: Grant) -> Grant:
    session.add(grant)
    session.flush()
    return grant


def get_grant(session: Session, *, grant_id: str) -> Grant | None:
    return session.get(Grant, grant_id)


def grant_is_active(session: Session, *, grant_id: str, now: datetime) -> bool:
    row = session.execute(
        select(Grant.revoked_at, Grant.expires_at).where(Grant.id == grant_id)
    ).one_or_none()
    return row is not None and row.revoked_at is None and row.expires_at > now


def revoke_grant(session: Session, *, grant_id: str, now: datetime) -> bool:
    """Revoke a grant and with it every token issued under it; False if already revoked."""
    result = session.execute(
        update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None)).values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_grants_of_session(session: Session, *, sid: str, now: datetime) -> list[Grant]:
    grants = session.scalars(
        select(Grant).where(Grant.sid == sid, Grant.revoked_at.is_(None))
    ).all()
    for grant in grants:
        grant.revoked_at = now
    session.flush()
    return list(grants)


def add_authorization_code(session: Session, *, code: AuthorizationCode) -> None:
    session.add(code)
    session.flush()


@dataclass(frozen=True, slots=True)
class CodeRedemption:
    """The code row and whether this call was the one that consumed it."""

    code: AuthorizationCode | None
    first_use: bool


def consume_authorization_code(
    session: Session, *, code_hash: str, now: datetime
) -> CodeRedemption:
    result = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash, AuthorizationCode.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    first_use = bool(getattr(result, "rowcount", 0))
    code = session.get(AuthorizationCode, code_hash, populate_existing=True)
    return CodeRedemption(code=code, first_use=first_use and code is not None)


def add_refresh_token(session: Session, *, token: RefreshToken) -> None:
    session.add(token)
    session.flush()


def find_refresh_token(session: Session, *, token_hash: str) -> RefreshToken | None:
    return session.get(RefreshToken, token_hash)


def rotate_refresh_token(session: Session, *, token_hash: str, now: datetime) -> bool:
    """Mark a refresh token used; True only for the one caller that did it."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_access_token(session: Session, *, jti: str, expires_at: datetime) -> None:
    try:
        with session.begin_nested():
            session.add(RevokedAccessToken(jti=jti, expires_at=expires_at))
    except IntegrityError:
        pass  # already revoked


def access_token_is_revoked(session: Session, *, jti: str) -> bool:
    return session.get(RevokedAccessToken, jti) is not None


def grants_of_session(session: Session, *, sid: str) -> list[Grant]:
    return list(
        session.scalars(select(Grant).where(Grant.sid == sid, Grant.revoked_at.is_(None))).all()
    )
