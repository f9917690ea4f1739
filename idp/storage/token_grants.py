"""Queries of the token and UserInfo endpoints that ``idp.storage.grants`` does not have.

These endpoints are on the hot path of every relying party, and their cost is the number of
database round trips (each costs more CPU in the driver and the ORM than the SQL costs the
server), so each reads everything it needs in one statement:

- ``grant_with_citizen``: a grant and its citizen (the subject, the released claims and the
  account status of every token issued from a grant).
- ``presented_refresh_token``: a refresh token with its grant and citizen.
- ``userinfo_source``: what UserInfo needs of an access token, in one statement that is not
  wrapped in a transaction (``read_without_transaction``: a single SELECT sees one snapshot,
  so BEGIN and COMMIT would only add two round trips).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, exists, select
from sqlalchemy.orm import Session

from idp.storage.models import Citizen, Grant, OAuthClient, RefreshToken, RevokedAccessToken


def grant_with_citizen(session: Session, *, grant_id: str) -> tuple[Grant, Citizen] | None:
    """The grant and the citizen who gave it, or None if the grant does not exist."""
    row = session.execute(
        select(Grant, Citizen)
        .join(Citizen, Citizen.id == Grant.citizen_id)
        .where(Grant.id == grant_id)
    ).one_or_none()
    if row is None:
        return None
    return row[0], row[1]


@dataclass(frozen=True, slots=True)
class StoredRefreshToken:
    """A refresh token as stored (its hash, never its value), with its grant and citizen."""

    token_hash: str
    client_id: str
    scope: str
    expires_at: datetime
    rotated_at: datetime | None
    grant: Grant
    citizen: Citizen

    @property
    def grant_id(self) -> str:
        return self.grant.id


_refresh_token = RefreshToken.__table__.c
_PRESENTED_REFRESH_TOKEN = (
    select(
        _refresh_token.client_id,
        _refresh_token.scope,
        _refresh_token.expires_at,
        _refresh_token.rotated_at,
        Grant,
        Citizen,
    )
    .select_from(RefreshToken.__table__)
    .join(Grant, Grant.id == _refresh_token.grant_id)
    .join(Citizen, Citizen.id == Grant.citizen_id)
    .where(_refresh_token.token_hash == bindparam("token_hash", type_=String))
)
"""Built once, like every statement of this module: building an ORM statement costs more CPU
than PostgreSQL spends running it."""


def presented_refresh_token(session: Session, *, token_hash: str) -> StoredRefreshToken | None:
    """The refresh token with this hash, its grant and its citizen, in one round trip; None if
    no such token exists (the grant and the citizen always do: foreign keys)."""
    row = session.execute(_PRESENTED_REFRESH_TOKEN, {"token_hash": token_hash}).one_or_none()
    if row is None:
        return None
    client_id, scope, expires_at, rotated_at, grant, citizen = row
    return StoredRefreshToken(
        token_hash=token_hash,
        client_id=client_id,
        scope=scope,
        expires_at=expires_at,
        rotated_at=rotated_at,
        grant=grant,
        citizen=citizen,
    )


def read_without_transaction(session: Session) -> None:
    """Run this session's statements outside a transaction (autocommit): no BEGIN and no
    COMMIT round trip. Only for a session that reads, in one statement, and that has not
    executed anything yet; the connection goes back to the pool with its usual isolation."""
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@dataclass(frozen=True, slots=True)
class UserInfoClient:
    """What UserInfo reads of the client an access token was issued to."""

    client_id: str
    subject_type: str
    sector_identifier: str | None
    userinfo_signed_response_alg: str | None


@dataclass(frozen=True, slots=True)
class UserInfoSource:
    """An access token's grant, citizen and client, and whether the token was revoked."""

    token_revoked: bool
    grant_revoked_at: datetime | None
    grant_expires_at: datetime
    grant_claims: dict[str, object] | None
    citizen: Citizen
    client: UserInfoClient | None
    """None when the token's client no longer exists."""

    def grant_is_active(self, now: datetime) -> bool:
        return self.grant_revoked_at is None and self.grant_expires_at > now


_USERINFO_SOURCE = (
    select(
        exists()
        .where(RevokedAccessToken.jti == bindparam("jti", type_=String))
        .label("token_revoked"),
        Grant.revoked_at,
        Grant.expires_at,
        Grant.claims,
        Citizen,
        OAuthClient.client_id,
        OAuthClient.subject_type,
        OAuthClient.sector_identifier,
        OAuthClient.userinfo_signed_response_alg,
    )
    .select_from(Grant)
    .join(Citizen, Citizen.id == Grant.citizen_id)
    .outerjoin(OAuthClient, OAuthClient.client_id == bindparam("client_id", type_=String))
    .where(Grant.id == bindparam("grant_id", type_=String))
)


def userinfo_source(
    session: Session, *, jti: str, grant_id: str, client_id: str | None
) -> UserInfoSource | None:
    """Everything UserInfo needs of an access token, in one statement; None if its grant does
    not exist. ``client_id`` None (not one a client can have) finds no client."""
    row = session.execute(
        _USERINFO_SOURCE, {"jti": jti, "grant_id": grant_id, "client_id": client_id}
    ).one_or_none()
    if row is None:
        return None
    (
        token_revoked,
        grant_revoked_at,
        grant_expires_at,
        grant_claims,
        citizen,
        found_client_id,
        subject_type,
        sector_identifier,
        userinfo_alg,
    ) = row
    client = (
        UserInfoClient(
            client_id=found_client_id,
            subject_type=subject_type,
            sector_identifier=sector_identifier,
            userinfo_signed_response_alg=userinfo_alg,
        )
        if found_client_id is not None
        else None
    )
    return UserInfoSource(
        token_revoked=bool(token_revoked),
        grant_revoked_at=grant_revoked_at,
        grant_expires_at=grant_expires_at,
        grant_claims=grant_claims,
        citizen=citizen,
        client=client,
    )
