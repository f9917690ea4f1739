"""Minting the tokens of a grant, from explicit inputs (no clock, no database, no request).

- Access tokens: RFC 9068 JWT profile (``typ: at+jwt``, ES256), audience the issuer, the
  subject the client sees, the grant's scope, ``grant_id`` so that revoking the grant kills
  the token, and the grant's ``auth_time``/``acr``/``amr``.
- ID tokens: OIDC Core 2, 3.1.3.6 (``at_hash``) and 12.2 (after a refresh: same ``auth_time``,
  no ``nonce``), signed with the client's ``id_token_signed_response_alg``. Scope claims are not
  in the ID token when an access token is issued (OIDC Core 5.4: they go to UserInfo); claims
  requested individually for the ID token with the ``claims`` parameter are (OIDC Core 5.5),
  and so is ``verified_claims`` when requested there (OpenID Connect for Identity Assurance 1.0,
  built by ``idp.assurance.verified_claims``).
- Refresh tokens: opaque, 256 random bits, stored only as a SHA-256 hash (OIDC Core 11, RFC
  9700 4.14), and only when the client may use them.

The claim builders are in ``idp.oidc.tokens``; this module gathers their inputs and signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from idp.assurance.verified_claims import release_verified_claims
from idp.config import Settings
from idp.errors import ServerError
from idp.oidc import jose, tokens
from idp.oidc.claims import (
    citizen_claim_values,
    claims_request_from_json,
    release_claims,
    subject_for,
)
from idp.oidc.client_cache import ClientView
from idp.oidc.clients import GrantType
from idp.signing_keys.keyring import KeyRing, NoSigningKey
from idp.storage.models import Citizen, ClientAuthMethod, Grant, RefreshToken

ACCESS_TOKEN_ALG = "ES256"
OFFLINE_ACCESS = "offline_access"
OPENID = "openid"


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    jti: str


def subject_of(citizen: Citizen, client: ClientView, settings: Settings) -> str:
    """The ``sub`` this client knows the citizen by: public, or pairwise per sector (OIDC Core
    8.1)."""
    return subject_for(
        citizen=citizen,
        subject_type=client.subject_type,
        sector=client.sector_identifier,
        salt=settings.pairwise_salt_bytes(),
    )


def _sign(keyring: KeyRing, claims: dict[str, Any], *, alg: str, typ: str) -> str:
    """Sign, turning a missing current key (an operator's problem, never the client's) into a
    logged ``server_error``."""
    try:
        return jose.sign(keyring, claims, alg=alg, typ=typ)
    except NoSigningKey as exc:
        raise ServerError(debug=str(exc)) from None


def access_token(
    *,
    keyring: KeyRing,
    settings: Settings,
    subject: str,
    client_id: str,
    scope: str,
    now: datetime,
    grant: Grant | None = None,
) -> IssuedAccessToken:
    """An RFC 9068 access token; without a grant (client_credentials) it has no ``grant_id``
    and no authentication claims."""
    ttl = settings.access_token_ttl_seconds
    jti = tokens.new_jti()
    claims = tokens.access_token_claims(
        issuer=settings.issuer,
        audience=settings.issuer,
        subject=subject,
        client_id=client_id,
        scope=scope,
        now=now,
        ttl=timedelta(seconds=ttl),
        jti=jti,
        grant_id=grant.id if grant is not None else None,
        auth_time=grant.auth_time if grant is not None else None,
        acr=grant.acr if grant is not None else None,
        amr=grant.amr if grant is not None else None,
    )
    token = _sign(keyring, claims, alg=ACCESS_TOKEN_ALG, typ=tokens.ACCESS_TOKEN_TYPE)
    return IssuedAccessToken(token=token, expires_in=ttl, jti=jti)


def id_token_claims_requested(
    citizen: Citizen, grant: Grant, *, settings: Settings, subject: str, now: datetime
) -> dict[str, Any]:
    """Claims the relying party asked for individually in the ID token (OIDC Core 5.5), and
    only those: scope claims are UserInfo's when an access token is issued (OIDC Core 5.4).
    ``verified_claims`` too, when asked for in the ID token (OIDC4IDA)."""
    request = claims_request_from_json(grant.claims)
    released: dict[str, Any] = {}
    if request.id_token:
        released = release_claims(
            values=citizen_claim_values(citizen), scope_names=set(), requested=request.id_token
        )
    released.update(
        release_verified_claims(
            request.id_token_verified_claims,
            citizen=citizen,
            settings=settings,
            subject=subject,
            now=now,
        )
    )
    return released


def id_token(
    *,
    keyring: KeyRing,
    settings: Settings,
    client: ClientView,
    citizen: Citizen,
    grant: Grant,
    subject: str,
    access_token_value: str,
    nonce: str | None,
    now: datetime,
) -> str:
    """An ID token for the grant (OIDC Core 3.1.3.6), bound to its access token by
    ``at_hash``; ``nonce`` is the authorization request's, or None after a refresh (12.2)."""
    alg = client.id_token_signed_response_alg
    claims = tokens.id_token_claims(
        issuer=settings.issuer,
        subject=subject,
        client_id=client.client_id,
        now=now,
        ttl=timedelta(seconds=settings.id_token_ttl_seconds),
        auth_time=grant.auth_time,
        nonce=nonce,
        acr=grant.acr,
        amr=grant.amr,
        sid=grant.sid,
        at_hash=tokens.left_half_hash(access_token_value, alg),
        extra_claims=id_token_claims_requested(
            citizen, grant, settings=settings, subject=subject, now=now
        ),
    )
    return _sign(keyring, claims, alg=alg, typ=tokens.ID_TOKEN_TYPE)


def issues_refresh_token(client: ClientView, scopes: list[str]) -> bool:
    """OIDC Core 11 as this provider applies it: a refresh token when ``offline_access`` was
    granted (with consent), and to confidential clients, in both cases only to a client
    registered for the refresh_token grant (a token it could not use is never minted)."""
    if GrantType.REFRESH_TOKEN not in client.grant_types:
        return False
    if OFFLINE_ACCESS in scopes:
        return True
    return client.token_endpoint_auth_method != ClientAuthMethod.NONE


def refresh_token(
    *, grant: Grant, client_id: str, scope: str, now: datetime
) -> tuple[str, RefreshToken]:
    """A new refresh token and the row that stores its hash; it lives as long as its grant.
    ``scope`` is the scope of the grant's refresh tokens, never a narrowed one (RFC 6749 6)."""
    value = tokens.new_opaque_token()
    row = RefreshToken(
        token_hash=tokens.token_hash(value),
        grant_id=grant.id,
        client_id=client_id,
        scope=scope,
        created_at=now,
        expires_at=grant.expires_at,
    )
    return value, row
