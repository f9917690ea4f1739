"""Grants, authorization codes, refresh tokens and revoked access tokens.

Codes and refresh tokens are stored as SHA-256 hashes and consumed with a single conditional
UPDATE (``... WHERE consumed_at IS NULL``), which is atomic on SQLite and on PostgreSQL under its
default isolation: of any number of parallel redemptions exactly one sees ``rowcount == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.storage.models import (
    AuthorizationCode,
    Grant,
    RefreshToken,
    RevokedAccessToken,
)
from idp.storage.types import UTCDateTime

_INSERT_GRANT = insert(Grant.__table__)
_INSERT_AUTHORIZATION_CODE = insert(AuthorizationCode.__table__)
"""Issuing a code writes a grant and a code that the session never reads again: Core INSERTs,
built once, skip the ORM's unit of work (a flush per row)."""


def _column_values(row: Grant | AuthorizationCode) -> dict[str, object]:
    mapper = sa_inspect(type(row))
    return {
        attribute.columns[0].key: getattr(row, attribute.key) for attribute in mapper.column_attrs
    }


def add_grant(session: Session, *, grant: Grant) -> Grant:
    """Insert the grant (one statement); the object stays outside the session."""
    session.execute(_INSERT_GRANT, _column_values(grant))
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
    """Insert the code (one statement); the object stays outside the session."""
    session.execute(_INSERT_AUTHORIZATION_CODE, _column_values(code))


@dataclass(frozen=True, slots=True)
class CodeRedemption:
    """The code row and whether this call was the one that consumed it."""

    code: AuthorizationCode | None
    first_use: bool


_code = AuthorizationCode.__table__.c
_CONSUME_CODE = (
    update(AuthorizationCode.__table__)
    .where(
        _code.code_hash == bindparam("presented_hash", type_=String),
        _code.consumed_at.is_(None),
    )
    .values(consumed_at=bindparam("consumed_now", type_=UTCDateTime()))
    .returning(*AuthorizationCode.__table__.c)
)
"""Consume and read the code in one round trip (PostgreSQL and SQLite >= 3.35 both have
``UPDATE ... RETURNING``); a Core statement, built once, so the ORM does not first check it
against the session's identity map."""


def consume_authorization_code(
    session: Session, *, code_hash: str, now: datetime
) -> CodeRedemption:
    """Mark the code used; ``first_use`` only for the one caller whose UPDATE matched (the
    row lock decides between concurrent redemptions). A code already used is read again so
    that the caller can revoke its grant."""
    consumed = session.execute(
        _CONSUME_CODE, {"presented_hash": code_hash, "consumed_now": now}
    ).one_or_none()
    if consumed is not None:
        return CodeRedemption(code=AuthorizationCode(**consumed._mapping), first_use=True)
    code = session.get(AuthorizationCode, code_hash, populate_existing=True)
    return CodeRedemption(code=code, first_use=False)


_refresh_token = RefreshToken.__table__.c
_INSERT_REFRESH_TOKEN = insert(RefreshToken.__table__)
_ROTATE_REFRESH_TOKEN = (
    update(RefreshToken.__table__)
    .where(
        _refresh_token.token_hash == bindparam("presented_hash", type_=String),
        _refresh_token.rotated_at.is_(None),
    )
    .values(rotated_at=bindparam("rotated_now", type_=UTCDateTime()))
)
"""The refresh grant's writes, built once as Core statements: the new token is not read again
in the session, and no refresh token is kept in it to synchronise, so the ORM's unit of work
(identity map, flush, synchronisation of an UPDATE) would only add cost."""


def add_refresh_token(session: Session, *, token: RefreshToken) -> None:
    """One INSERT of the token's row (see ``_INSERT_REFRESH_TOKEN``)."""
    session.execute(
        _INSERT_REFRESH_TOKEN,
        {
            "token_hash": token.token_hash,
            "grant_id": token.grant_id,
            "client_id": token.client_id,
            "scope": token.scope,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "rotated_at": token.rotated_at,
        },
    )


def find_refresh_token(session: Session, *, token_hash: str) -> RefreshToken | None:
    return session.get(RefreshToken, token_hash)


def rotate_refresh_token(session: Session, *, token_hash: str, now: datetime) -> bool:
    """Mark a refresh token used; True only for the one caller that did it."""
    result = session.execute(
        _ROTATE_REFRESH_TOKEN, {"presented_hash": token_hash, "rotated_now": now}
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
