"""Token endpoint rules: RFC 6749 3.2, 4.1.3, 4.4, 5 and 6; RFC 7636 4.6; OIDC Core 3.1.3 and
12; RFC 9700 2.1.1 and 4.14.2.

The endpoint is an ordered list of named steps (``idp.oidc.routers.token``): no-store headers,
``parse_token_form``, client authentication, ``requested_grant_type``, then one grant handler
from ``GRANT_HANDLERS``. Each handler reads as checks -> atomic consumption -> issuance -> the
token response (RFC 6749 5.1). Checks come first, so a refused request changes nothing; the
one exception is on purpose: a second use of a code or of a rotated refresh token revokes the
whole grant (every token issued from it), and that revocation is committed although the
request fails. Codes and refresh tokens are consumed with one conditional UPDATE, so of
parallel requests exactly one wins.

No web framework here: the router hands in the parsed form, the session and the context.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any, NoReturn, Protocol
from urllib.parse import parse_qsl

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from idp.oidc import issuance
from idp.oidc.client_cache import ClientRegistration
from idp.oidc.clients import GrantType
from idp.oidc.tokens import token_hash
from idp.signing_keys.keyring import KeyRing
from idp.storage import grants, token_grants
from idp.storage.models import (
    AuthorizationCode,
    Citizen,
    CitizenStatus,
    ClientAuthMethod,
    Grant,
)
from idp.storage.token_grants import StoredRefreshToken

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 64 * 1024
"""Generous for a private_key_jwt assertion with a certificate chain; small enough that a
client cannot make us parse megabytes."""
MAX_PARAMETERS = 32
CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
"""RFC 7636 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"."""
KNOWN_PARAMETERS = frozenset(
    {
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "token",
        "token_type_hint",
    }
)
FORBIDDEN_CLIENT_CREDENTIALS_SCOPES = frozenset({issuance.OPENID, issuance.OFFLINE_ACCESS})


# --- the request ---


def check_form_content_type(content_type: str | None) -> None:
    """RFC 6749 3.2: the body is ``application/x-www-form-urlencoded``, nothing else."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise InvalidRequest("The body must be application/x-www-form-urlencoded.")


def parse_token_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The parameters of the body, each at most once (RFC 6749 3.2); parameters sent without a
    value are treated as omitted (RFC 6749 3.1)."""
    check_form_content_type(content_type)
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=MAX_PARAMETERS,
            encoding="utf-8",
            errors="strict",
        )
    except ValueError:  # too many fields, non-ASCII body, percent-encoded bytes not UTF-8
        raise InvalidRequest(
            f"The body is not a valid form of at most {MAX_PARAMETERS} parameters."
        ) from None
    form: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            named = f"The parameter {name}" if name in KNOWN_PARAMETERS else "A parameter"
            raise InvalidRequest(f"{named} must not be repeated.")
        seen.add(name)
        if value:
            form[name] = value
    return form


def required(form: dict[str, str], name: str) -> str:
    """A parameter the request must carry (``invalid_request`` without it, RFC 6749 5.2)."""
    value = form.get(name)
    if value is None:
        raise InvalidRequest(f"The {name} parameter is missing.")
    return value


def requested_grant_type(form: dict[str, str], client: ClientRegistration) -> GrantType:
    """RFC 6749 5.2: ``grant_type`` is required, one we support (``unsupported_grant_type``),
    and one the client registered (``unauthorized_client``)."""
    value = required(form, "grant_type")
    try:
        grant_type = GrantType(value)
    except ValueError:
        raise UnsupportedGrantType("The grant_type is not supported.") from None
    if grant_type not in client.grant_types:
        raise UnauthorizedClient("This client is not registered for this grant_type.")
    return grant_type


def scope_tokens(scope: str) -> list[str]:
    """RFC 6749 3.3: space-delimited, order irrelevant; duplicates collapse."""
    return list(dict.fromkeys(part for part in scope.split(" ") if part))


# --- shared by the grants ---


def refuse_after_revoking(session: Session, *, grant_id: str, now: datetime, why: str) -> NoReturn:
    """RFC 6749 4.1.2 and RFC 9700 4.14.2: a replayed code or refresh token means it leaked, so
    every token of its grant dies. The revocation is committed here because the request itself
    fails (and the failure would otherwise roll it back)."""
    grants.revoke_grant(session, grant_id=grant_id, now=now)
    session.commit()
    raise InvalidGrant(why)


def check_grant_active(grant: Grant, citizen: Citizen, now: datetime) -> None:
    """The grant is unrevoked and unexpired, and its citizen's account is still active."""
    if grant.revoked_at is not None or grant.expires_at <= now:
        raise InvalidGrant("The grant has expired or was revoked.")
    if citizen.status != CitizenStatus.ACTIVE:
        raise InvalidGrant("The account of this grant is not active.")


def active_grant(session: Session, *, grant_id: str, now: datetime) -> tuple[Grant, Citizen]:
    """The grant, unrevoked and unexpired, of a citizen whose account is still active."""
    found = token_grants.grant_with_citizen(session, grant_id=grant_id)
    if found is None:
        raise InvalidGrant("The grant is no longer valid.")
    grant, citizen = found
    check_grant_active(grant, citizen, now)
    return grant, citizen


def grant_token_response(
    *,
    keyring: KeyRing,
    settings: Settings,
    client: ClientRegistration,
    grant: Grant,
    citizen: Citizen,
    scope: str,
    nonce: str | None,
    now: datetime,
) -> dict[str, Any]:
    """RFC 6749 5.1 / OIDC Core 3.1.3.3: an access token, and an ID token when ``openid`` is in
    the scope. The refresh token, if any, is the caller's business (it is stored)."""
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
    if issuance.OPENID in scope_tokens(scope):
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
    return body


def store_refresh_token(
    session: Session, *, grant: Grant, client: ClientRegistration, scope: str, now: datetime
) -> str:
    value, row = issuance.refresh_token(
        grant=grant, client_id=client.client_id, scope=scope, now=now
    )
    grants.add_refresh_token(session, token=row)
    return value


# --- authorization_code (RFC 6749 4.1.3, RFC 7636 4.6, OIDC Core 3.1.3.2) ---


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)


def redeem_code(session: Session, *, code: str, now: datetime) -> AuthorizationCode:
    """Consume the code atomically; a second use revokes its grant (RFC 6749 4.1.2)."""
    redemption = grants.consume_authorization_code(session, code_hash=token_hash(code), now=now)
    stored = redemption.code
    if stored is None:
        raise InvalidGrant("The authorization code is invalid.")
    if not redemption.first_use:
        refuse_after_revoking(
            session,
            grant_id=stored.grant_id,
            now=now,
            why="The authorization code was already used; its tokens are revoked.",
        )
    return stored


def check_code_client(stored: AuthorizationCode, client: ClientRegistration) -> None:
    """RFC 6749 4.1.3: the code was issued to the authenticated client."""
    if stored.client_id != client.client_id:
        raise InvalidGrant("The authorization code was issued to another client.")


def check_code_unexpired(stored: AuthorizationCode, now: datetime) -> None:
    """RFC 6749 4.1.2: codes are short-lived (here at most 60 s)."""
    if stored.expires_at <= now:
        raise InvalidGrant("The authorization code has expired.")


def check_code_redirect_uri(stored: AuthorizationCode, redirect_uri: str) -> None:
    """RFC 6749 4.1.3: identical to the redirect_uri of the authorization request."""
    if redirect_uri != stored.redirect_uri:
        raise InvalidGrant("The redirect_uri does not match the authorization request.")


def check_pkce(stored: AuthorizationCode, verifier: str | None, client: ClientRegistration) -> None:
    """RFC 7636 4.6, and RFC 9700 2.1.1: a code_verifier for a code issued without a
    code_challenge is refused (PKCE downgrade), and public clients always need PKCE."""
    challenge = stored.code_challenge
    if not challenge:
        if verifier is not None:
            raise InvalidGrant("A code_verifier was sent for a code issued without PKCE.")
        if client.token_endpoint_auth_method == ClientAuthMethod.NONE:
            raise InvalidGrant("Public clients must use PKCE.")
        return
    if verifier is None:
        raise InvalidGrant("The code_verifier is missing (PKCE).")
    if not CODE_VERIFIER.fullmatch(verifier):
        raise InvalidGrant("The code_verifier must be 43 to 128 unreserved characters.")
    if not pkce_matches(verifier, challenge):
        raise InvalidGrant("The code_verifier does not match the code_challenge.")


def authorization_code_grant(
    session: Session,
    *,
    form: dict[str, str],
    client: ClientRegistration,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    code = required(form, "code")
    redirect_uri = required(form, "redirect_uri")
    verifier = form.get("code_verifier")
    stored = redeem_code(session, code=code, now=now)
    check_code_client(stored, client)
    check_code_unexpired(stored, now)
    check_code_redirect_uri(stored, redirect_uri)
    check_pkce(stored, verifier, client)
    grant, citizen = active_grant(session, grant_id=stored.grant_id, now=now)
    body = grant_token_response(
        keyring=keyring,
        settings=settings,
        client=client,
        grant=grant,
        citizen=citizen,
        scope=grant.scope,
        nonce=stored.nonce,
        now=now,
    )
    if issuance.issues_refresh_token(client, scope_tokens(grant.scope)):
        body["refresh_token"] = store_refresh_token(
            session, grant=grant, client=client, scope=grant.scope, now=now
        )
    return body


# --- refresh_token (RFC 6749 6, RFC 9700 4.14.2, OIDC Core 12) ---


def presented_refresh_token(
    session: Session, *, value: str, client: ClientRegistration, now: datetime
) -> StoredRefreshToken:
    """The stored refresh token (with its grant and citizen, read in the same round trip), if
    it is this client's: a token of another client is ``invalid_grant`` and stays untouched
    (RFC 6749 6). A rotated one presented again by its client was replayed: the grant is
    revoked (RFC 9700 4.14.2)."""
    stored = token_grants.presented_refresh_token(session, token_hash=token_hash(value))
    if stored is None or stored.client_id != client.client_id:
        raise InvalidGrant("The refresh token is invalid.")
    if stored.rotated_at is not None:
        refuse_after_revoking(
            session,
            grant_id=stored.grant_id,
            now=now,
            why="The refresh token was already used; the grant is revoked.",
        )
    if stored.expires_at <= now:
        raise InvalidGrant("The refresh token has expired.")
    return stored


def narrowed_scope(granted: str, requested: str | None) -> str:
    """RFC 6749 6: the scope may be narrowed, never widened (``invalid_scope``)."""
    if requested is None:
        return granted
    wanted = scope_tokens(requested)
    if not wanted:
        return granted
    if not set(wanted) <= set(scope_tokens(granted)):
        raise InvalidScope("A refresh cannot widen the scope of the grant.")
    return " ".join(wanted)


def rotate(session: Session, stored: StoredRefreshToken, *, now: datetime) -> None:
    """Mark the token used with one conditional UPDATE; the loser of a race for it (the UPDATE
    changed no row) is treated as a replay."""
    if not grants.rotate_refresh_token(session, token_hash=stored.token_hash, now=now):
        refuse_after_revoking(
            session,
            grant_id=stored.grant_id,
            now=now,
            why="The refresh token was already used; the grant is revoked.",
        )


def refresh_token_grant(
    session: Session,
    *,
    form: dict[str, str],
    client: ClientRegistration,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    stored = presented_refresh_token(
        session, value=required(form, "refresh_token"), client=client, now=now
    )
    scope = narrowed_scope(stored.scope, form.get("scope"))
    grant, citizen = stored.grant, stored.citizen
    check_grant_active(grant, citizen, now)
    rotate(session, stored, now=now)
    body = grant_token_response(
        keyring=keyring,
        settings=settings,
        client=client,
        grant=grant,
        citizen=citizen,
        scope=scope,
        nonce=None,  # OIDC Core 12.2
        now=now,
    )
    body["refresh_token"] = store_refresh_token(
        session, grant=grant, client=client, scope=stored.scope, now=now
    )
    return body


# --- client_credentials (RFC 6749 4.4) ---


def check_confidential(client: ClientRegistration) -> None:
    """RFC 6749 4.4: only confidential clients."""
    if client.token_endpoint_auth_method == ClientAuthMethod.NONE:
        raise UnauthorizedClient("Public clients cannot use the client_credentials grant.")


def client_credentials_scope(requested: str | None, registered: Collection[str]) -> str:
    """A subset of the client's registered scopes; never ``openid`` or ``offline_access``,
    which need a citizen."""
    wanted = scope_tokens(requested) if requested else []
    if FORBIDDEN_CLIENT_CREDENTIALS_SCOPES.intersection(wanted):
        raise InvalidScope("openid and offline_access are not for the client_credentials grant.")
    if not set(wanted) <= set(registered):
        raise InvalidScope("A requested scope is not registered for this client.")
    return " ".join(wanted)


def client_credentials_grant(
    session: Session,
    *,
    form: dict[str, str],
    client: ClientRegistration,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    check_confidential(client)
    scope = client_credentials_scope(form.get("scope"), client.scopes)
    access = issuance.access_token(
        keyring=keyring,
        settings=settings,
        subject=client.client_id,
        client_id=client.client_id,
        scope=scope,
        now=now,
    )
    body: dict[str, Any] = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": access.expires_in,
    }
    if scope:
        body["scope"] = scope
    return body


class GrantHandler(Protocol):
    """A grant type's handler: checks, consumes and issues, or raises a ``ProviderError``."""

    def __call__(
        self,
        session: Session,
        *,
        form: dict[str, str],
        client: ClientRegistration,
        keyring: KeyRing,
        settings: Settings,
        now: datetime,
    ) -> dict[str, Any]: ...


GRANT_HANDLERS: dict[GrantType, GrantHandler] = {
    GrantType.AUTHORIZATION_CODE: authorization_code_grant,
    GrantType.REFRESH_TOKEN: refresh_token_grant,
    GrantType.CLIENT_CREDENTIALS: client_credentials_grant,
}
