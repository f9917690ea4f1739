"""Bearer token usage (RFC 6750): from the Authorization header or a form body, never from the
query string; verified as one of our RFC 9068 access tokens that is not revoked."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp.context import ProviderContext
from idp.errors import InvalidRequest, InvalidToken, ProviderError
from idp.oidc import jose
from idp.oidc.tokens import ACCESS_TOKEN_TYPE
from idp.storage import grants


class InsufficientScope(ProviderError):
    error = "insufficient_scope"
    status_code = 403
    default_description = "The access token does not carry the needed scope."


def challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="userinfo"'
    if error:
        value += f', error="{error}"'
    return {"www-authenticate": value}


def extract_token(
    *, authorization: str | None, form_token: str | None, query_has_token: bool
) -> str:
    if query_has_token:
        raise InvalidRequest(
            "Access tokens are not accepted in the query string.",
            headers=challenge("invalid_request"),
        )
    header_token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken(headers=challenge("invalid_token"))
        header_token = value.strip()
    if header_token and form_token:
        raise InvalidRequest(
            "Send the access token once, in one place.", headers=challenge("invalid_request")
        )
    token = header_token or form_token
    if not token:
        raise InvalidToken("No access token was sent.", headers=challenge())
    return token


def verify_access_token_signature(context: ProviderContext, token: str) -> dict[str, Any]:
    """The claims of one of our access tokens whose signature, type, issuer, audience and
    lifetime hold (RFC 9068 4); whether it was revoked is the caller's next check."""
    settings = context.settings
    try:
        verified = jose.verify(
            token,
            keyring=context.keyring,
            typ=ACCESS_TOKEN_TYPE,
            issuer=settings.issuer,
            audience=settings.issuer,
            leeway=settings.clock_skew_seconds,
        )
    except jose.TokenInvalid as exc:
        raise InvalidToken(debug=str(exc), headers=challenge("invalid_token")) from None
    return verified.claims


def verify_access_token(session: Session, context: ProviderContext, token: str) -> dict[str, Any]:
    """A live access token: its signature holds, it was not revoked, nor was its grant."""
    claims = verify_access_token_signature(context, token)
    jti = claims.get("jti")
    if not isinstance(jti, str) or grants.access_token_is_revoked(session, jti=jti):
        raise InvalidToken(debug="revoked access token", headers=challenge("invalid_token"))
    grant_id = claims.get("grant_id")
    if grant_id is not None and not grants.grant_is_active(
        session, grant_id=str(grant_id), now=context.clock()
    ):
        raise InvalidToken(debug="grant revoked", headers=challenge("invalid_token"))
    return claims
