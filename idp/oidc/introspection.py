"""Token introspection (RFC 7662) and revocation (RFC 7009) rules.

Only the client a token was issued to learns anything about it: for every other caller, and for
anything invalid, introspection answers exactly ``{"active": false}`` and revocation does
nothing (and still answers 200).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from idp.context import ProviderContext
from idp.errors import InvalidToken, ProviderError
from idp.oidc.bearer import verify_access_token
from idp.oidc.client_cache import ClientRegistration
from idp.oidc.tokens import token_hash
from idp.storage import grants
from idp.storage.models import RefreshToken

INACTIVE: dict[str, Any] = {"active": False}
TOKEN_TYPE_HINTS = frozenset({"access_token", "refresh_token"})


class UnsupportedTokenType(ProviderError):
    """RFC 7009 2.2.1."""

    error = "unsupported_token_type"
    status_code = 400
    default_description = "token_type_hint must be access_token or refresh_token."


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def _access_claims(session: Session, context: ProviderContext, token: str) -> dict[str, Any] | None:
    if not _looks_like_jwt(token):
        return None
    try:
        return verify_access_token(session, context, token)
    except InvalidToken:
        return None


def _live_refresh_token(session: Session, token: str, now: datetime) -> RefreshToken | None:
    stored = grants.find_refresh_token(session, token_hash=token_hash(token))
    if stored is None or stored.rotated_at is not None or stored.expires_at <= now:
        return None
    if not grants.grant_is_active(session, grant_id=stored.grant_id, now=now):
        return None
    return stored


def introspect(
    session: Session, context: ProviderContext, *, caller: ClientRegistration, token: str
) -> dict[str, Any]:
    now = context.clock()
    claims = _access_claims(session, context, token)
    if claims is not None:
        if claims.get("client_id") != caller.client_id:
            return INACTIVE
        response = {"active": True, "token_type": "Bearer"}
        for name in ("scope", "client_id", "sub", "exp", "iat", "iss", "jti", "aud"):
            if name in claims:
                response[name] = claims[name]
        return response
    stored = _live_refresh_token(session, token, now)
    if stored is None or stored.client_id != caller.client_id:
        return INACTIVE
    grant = grants.get_grant(session, grant_id=stored.grant_id)
    return {
        "active": True,
        "token_type": "refresh_token",
        "scope": stored.scope,
        "client_id": stored.client_id,
        "iat": int(stored.created_at.timestamp()),
        "exp": int(stored.expires_at.timestamp()),
        "iss": context.settings.issuer,
        **({"grant_id": grant.id} if grant else {}),
    }


def revoke(
    session: Session, context: ProviderContext, *, caller: ClientRegistration, token: str
) -> None:
    """RFC 7009 2.1: revoking a refresh token revokes its grant (and so its access tokens)."""
    now = context.clock()
    claims = _access_claims(session, context, token)
    if claims is not None:
        if claims.get("client_id") == caller.client_id:
            grants.revoke_access_token(
                session,
                jti=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        return
    stored = grants.find_refresh_token(session, token_hash=token_hash(token))
    if stored is not None and stored.client_id == caller.client_id:
        grants.revoke_grant(session, grant_id=stored.grant_id, now=now)
