"""Minting the tokens of a grant (RFC 9068 access tokens, OIDC Core ID tokens, opaque refresh
tokens). Claims come from the pure builders in ``idp.oidc.tokens``; this module only gathers
their inputs and signs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from idp.config import Settings
from idp.oidc import jose, tokens
from idp.oidc.claims import (
    citizen_claim_values,
    claims_request_from_json,
    release_claims,
    subject_for,
)
from idp.signing_keys.keyring import KeyRing
from idp.storage.models import Citizen, Grant, OAuthClient

ACCESS_TOKEN_ALG = "ES256"


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    jti: str


def subject_of(citizen: Citizen, client: OAuthClient, settings: Settings) -> str:
    return subject_for(
        citizen=citizen,
        subject_type=client.subject_type,
        sector=client.sector_identifier,
        salt=settings.pairwise_salt_bytes(),
    )


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
        grant_id=grant.id if grant else None,
        auth_time=grant.auth_time if grant else None,
        acr=grant.acr if grant else None,
        amr=grant.amr if grant else None,
    )
    token = jose.sign(keyring, claims, alg=ACCESS_TOKEN_ALG, typ=tokens.ACCESS_TOKEN_TYPE)
    return IssuedAccessToken(token=token, expires_in=ttl, jti=jti)


def id_token(
    *,
    keyring: KeyRing,
    settings: Settings,
    client: OAuthClient,
    citizen: Citizen,
    grant: Grant,
    subject: str,
    access_token_value: str,
    nonce: str | None,
    now: datetime,
) -> str:
    alg = client.id_token_signed_response_alg
    requested = claims_request_from_json(grant.claims).id_token
    extra: dict[str, Any] = release_claims(
        values=citizen_claim_values(citizen), scope_names=set(), requested=requested
    )
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
        extra_claims=extra,
    )
    return jose.sign(keyring, claims, alg=alg, typ=tokens.ID_TOKEN_TYPE)
