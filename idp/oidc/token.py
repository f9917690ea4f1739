"""Token endpoint grants: RFC 6749 4.1.3 (authorization code, with RFC 7636 PKCE), 6 (refresh,
rotated per RFC 9700 4.14.2) and 4.4 (client credentials); OIDC Core 3.1.3 and 12.

Each grant reads as checks -> atomic consumption -> issuance. Codes and refresh tokens are
consumed with one conditional UPDATE, so of parallel requests exactly one wins; a second use
of a code or of a rotated refresh token revokes the whole grant (every token issued from it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from idp.oidc import issuance
from idp.oidc.clients import GrantType
from idp.oidc.tokens import new_opaque_token, token_hash
from idp.signing_keys.keyring import KeyRing
from idp.storage import citizens as citizen_store
from idp.storage import grants
from idp.storage.models import (
    CitizenStatus,
    ClientAuthMethod,
    Grant,
    OAuthClient,
    RefreshToken,
)

CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)


def _require(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequest(f"The {name} parameter is missing.")
    return value


def _active_citizen(session: Session, grant: Grant) -> Any:
    citizen = citizen_store.get_by_id(session, citizen_id=grant.citizen_id)
    if citizen is None or citizen.status != CitizenStatus.ACTIVE:
        raise InvalidGrant("The account of this grant is no longer active.")
    return citizen


def _issues_refresh_token(client: OAuthClient, scopes: list[str]) -> bool:
    """OIDC Core 11 for offline_access; confidential clients registered for refresh_token."""
    if "offline_access" in scopes:
        return True
    return (
        client.token_endpoint_auth_method != ClientAuthMethod.NONE
        and GrantType.REFRESH_TOKEN in client.grant_types
    )


def _token_response(
    session: Session,
    *,
    keyring: KeyRing,
    settings: Settings,
    client: OAuthClient,
    grant: Grant,
    scope: str,
    nonce: str | None,
    now: datetime,
) -> dict[str, Any]:
    citizen = _active_citizen(session, grant)
    subject = issuance.subject_of(citizen, client, settings)
    access = issuance.access_token(
        keyring=keyring,
        settings=settings,
        subject=subject,
        client_id=client.client_id,
        scope=scope,
        now=now,
        grant=grant,
    )
    body: dict[str, Any] = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
        "scope": scope,
    }
    scopes = scope.split()
    if "openid" in scopes:
        body["id_token"] = issuance.id_token(
            keyring=keyring,
            settings=settings,
            client=client,
            citizen=citizen,
            grant=grant,
            subject=subject,
            access_token_value=access.token,
            nonce=nonce,
            now=now,
        )
    if _issues_refresh_token(client, scopes) and GrantType.REFRESH_TOKEN in client.grant_types:
        refresh = new_opaque_token()
        grants.add_refresh_token(
            session,
            token=RefreshToken(
                token_hash=token_hash(refresh),
                grant_id=grant.id,
                client_id=client.client_id,
                scope=scope,
                created_at=now,
                expires_at=grant.expires_at,
            ),
        )
        body["refresh_token"] = refresh
    return body


def authorization_code_grant(
    session: Session,
    *,
    form: dict[str, str],
    client: OAuthClient,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    code = _require(form, "code")
    redirect_uri = _require(form, "redirect_uri")
    verifier = form.get("code_verifier")
    redemption = grants.consume_authorization_code(session, code_hash=token_hash(code), now=now)
    stored = redemption.code
    if stored is None:
        raise InvalidGrant("The authorization code is invalid.")
    if not redemption.first_use:
        grants.revoke_grant(session, grant_id=stored.grant_id, now=now)
        session.commit()  # the revocation must stand although the request fails
        raise InvalidGrant("The authorization code was already used; its tokens are revoked.")
    if stored.client_id != client.client_id:
        raise InvalidGrant("The authorization code was issued to another client.")
    if stored.expires_at <= now:
        raise InvalidGrant("The authorization code has expired.")
    if stored.redirect_uri != redirect_uri:
        raise InvalidGrant("The redirect_uri does not match the authorization request.")
    if not verifier or not CODE_VERIFIER.fullmatch(verifier):
        raise InvalidGrant("A valid code_verifier is required (PKCE).")
    if not pkce_matches(verifier, stored.code_challenge):
        raise InvalidGrant("The code_verifier does not match the code_challenge.")
    grant = grants.get_grant(session, grant_id=stored.grant_id)
    if grant is None or grant.revoked_at is not None or grant.expires_at <= now:
        raise InvalidGrant("The grant of this code is no longer valid.")
    return _token_response(
        session,
        keyring=keyring,
        settings=settings,
        client=client,
        grant=grant,
        scope=grant.scope,
        nonce=stored.nonce,
        now=now,
    )


def refresh_token_grant(
    session: Session,
    *,
    form: dict[str, str],
    client: OAuthClient,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    presented = token_hash(_require(form, "refresh_token"))
    stored = grants.find_refresh_token(session, token_hash=presented)
    if stored is None or stored.client_id != client.client_id:
        raise InvalidGrant("The refresh token is invalid.")
    if not grants.rotate_refresh_token(session, token_hash=presented, now=now):
        grants.revoke_grant(session, grant_id=stored.grant_id, now=now)
        session.commit()  # reuse of a rotated token revokes the family, even though we refuse
        raise InvalidGrant("The refresh token was already used; the grant is revoked.")
    grant = grants.get_grant(session, grant_id=stored.grant_id)
    if (
        grant is None
        or grant.revoked_at is not None
        or stored.expires_at <= now
        or grant.expires_at <= now
    ):
        raise InvalidGrant("The refresh token has expired or was revoked.")
    scope = stored.scope
    if form.get("scope"):
        requested = form["scope"].split()
        if not set(requested) <= set(scope.split()):
            raise InvalidScope("A refresh cannot widen the scope of the grant.")
        scope = " ".join(dict.fromkeys(requested))
    return _token_response(
        session,
        keyring=keyring,
        settings=settings,
        client=client,
        grant=grant,
        scope=scope,
        nonce=None,
        now=now,
    )


def client_credentials_grant(
    session: Session,
    *,
    form: dict[str, str],
    client: OAuthClient,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    if client.token_endpoint_auth_method == ClientAuthMethod.NONE:
        raise UnauthorizedClient("Public clients cannot use client_credentials.")
    requested = form.get("scope", "").split()
    if "openid" in requested or "offline_access" in requested:
        raise InvalidScope("openid and offline_access need a citizen; not for client_credentials.")
    if not set(requested) <= set(client.scopes):
        raise InvalidScope("A requested scope is not registered for this client.")
    scope = " ".join(dict.fromkeys(requested))
    access = issuance.access_token(
        keyring=keyring,
        settings=settings,
        subject=client.client_id,
        client_id=client.client_id,
        scope=scope,
        now=now,
    )
    return {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
        "scope": scope,
    }


GRANT_HANDLERS = {
    GrantType.AUTHORIZATION_CODE.value: authorization_code_grant,
    GrantType.REFRESH_TOKEN.value: refresh_token_grant,
    GrantType.CLIENT_CREDENTIALS.value: client_credentials_grant,
}
