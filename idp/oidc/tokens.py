"""Claims of the tokens the provider issues, as pure functions of explicit inputs.

- Access tokens: RFC 9068 JWT profile (``typ: at+jwt``).
- ID tokens: OIDC Core 2 and 3.1.3.6 (``at_hash``).
- Logout tokens: OIDC Back-Channel Logout 1.0 section 2.4 (``typ: logout+jwt``).
Signing is a separate step (``idp.oidc.jose.sign``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

ACCESS_TOKEN_TYPE = "at+jwt"
ID_TOKEN_TYPE = "JWT"
LOGOUT_TOKEN_TYPE = "logout+jwt"
USERINFO_TYPE = "JWT"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"

_HASHES = {
    "RS256": hashlib.sha256,
    "PS256": hashlib.sha256,
    "ES256": hashlib.sha256,
    "EdDSA": hashlib.sha512,  # Ed25519 signs with SHA-512 (OIDC Core 3.1.3.6 as errata'd)
}


def new_jti() -> str:
    return secrets.token_urlsafe(24)


def left_half_hash(value: str, alg: str) -> str:
    """``at_hash`` / ``c_hash``: base64url of the left half of the alg's hash of the value."""
    digest = _HASHES[alg](value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def access_token_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    client_id: str,
    scope: str,
    now: datetime,
    ttl: timedelta,
    jti: str,
    grant_id: str | None = None,
    auth_time: datetime | None = None,
    acr: str | None = None,
    amr: list[str] | None = None,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client_id,
        "scope": scope,
        "iat": _timestamp(now),
        "exp": _timestamp(now + ttl),
        "jti": jti,
    }
    if grant_id is not None:
        claims["grant_id"] = grant_id
    if auth_time is not None:
        claims["auth_time"] = _timestamp(auth_time)
    if acr is not None:
        claims["acr"] = acr
    if amr:
        claims["amr"] = amr
    return claims


def id_token_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    now: datetime,
    ttl: timedelta,
    auth_time: datetime,
    nonce: str | None = None,
    acr: str | None = None,
    amr: list[str] | None = None,
    sid: str | None = None,
    at_hash: str | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update(
        {
            "iss": issuer,
            "sub": subject,
            "aud": client_id,
            "azp": client_id,
            "iat": _timestamp(now),
            "exp": _timestamp(now + ttl),
            "auth_time": _timestamp(auth_time),
        }
    )
    if nonce is not None:
        claims["nonce"] = nonce
    if acr is not None:
        claims["acr"] = acr
    if amr:
        claims["amr"] = amr
    if sid is not None:
        claims["sid"] = sid
    if at_hash is not None:
        claims["at_hash"] = at_hash
    return claims


def logout_token_claims(
    *,
    issuer: str,
    client_id: str,
    now: datetime,
    ttl: timedelta,
    jti: str,
    subject: str | None,
    sid: str | None,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": _timestamp(now),
        "exp": _timestamp(now + ttl),
        "jti": jti,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if subject is not None:
        claims["sub"] = subject
    if sid is not None:
        claims["sid"] = sid
    return claims


def token_hash(value: str) -> str:
    """How codes and refresh tokens are stored: SHA-256 of 256 random bits."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)
