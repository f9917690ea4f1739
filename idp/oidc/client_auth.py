"""Client authentication at the token, introspection and revocation endpoints.

OIDC Core 9 and RFC 6749 2.3: ``client_secret_basic`` (HTTP Basic with form-urlencoded id and
secret, RFC 6749 2.3.1), ``client_secret_post``, ``private_key_jwt`` (RFC 7523) and ``none``
for public clients. A client may use only the method it registered; presenting credentials of
two methods at once is refused (RFC 6749 2.3). Every failure is ``invalid_client`` (401) with
a ``WWW-Authenticate`` challenge when Basic was tried; the reason goes to the log only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote_plus

from sqlalchemy.orm import Session

from idp.errors import InvalidClient, InvalidRequest
from idp.oidc.client_cache import ClientCache, ClientRegistration
from idp.oidc.clients import client_secret_matches
from idp.storage.models import ClientAuthMethod

CLIENT_ASSERTION_TYPE_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_CREDENTIAL_LENGTH = 512


@dataclass(frozen=True, slots=True)
class PresentedCredentials:
    """What the request carried, before any lookup."""

    method: ClientAuthMethod
    client_id: str
    client_secret: str | None = None
    client_assertion: str | None = None


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient(debug="malformed Basic credentials") from None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise InvalidClient(debug="Basic credentials without a colon")
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def presented_credentials(
    *, authorization: str | None, form: dict[str, str]
) -> PresentedCredentials:
    """Classify the credentials of a request; refuse mixtures of methods."""
    basic = _basic_credentials(authorization)
    form_id = form.get("client_id")
    form_secret = form.get("client_secret")
    assertion = form.get("client_assertion")
    assertion_type = form.get("client_assertion_type")
    methods_used = sum(bool(x) for x in (basic, form_secret, assertion))
    if methods_used > 1:
        raise InvalidRequest("Use exactly one client authentication method.")
    for value in (form_id, form_secret, assertion):
        if value is not None and len(value) > MAX_CREDENTIAL_LENGTH * 16:
            raise InvalidClient(debug="credential too long")
    if basic is not None:
        client_id, secret = basic
        if form_id is not None and form_id != client_id:
            raise InvalidRequest("The client_id parameter does not match the Basic credentials.")
        return PresentedCredentials(
            ClientAuthMethod.CLIENT_SECRET_BASIC, client_id=client_id, client_secret=secret
        )
    if form_secret is not None:
        if not form_id:
            raise InvalidClient(debug="client_secret without client_id")
        return PresentedCredentials(
            ClientAuthMethod.CLIENT_SECRET_POST, client_id=form_id, client_secret=form_secret
        )
    if assertion is not None:
        if assertion_type != CLIENT_ASSERTION_TYPE_JWT_BEARER:
            raise InvalidClient(debug="unsupported client_assertion_type")
        return PresentedCredentials(
            ClientAuthMethod.PRIVATE_KEY_JWT,
            client_id=form_id or "",
            client_assertion=assertion,
        )
    if form_id:
        return PresentedCredentials(ClientAuthMethod.NONE, client_id=form_id)
    raise InvalidClient(debug="no client credentials")


def _challenge(credentials: PresentedCredentials) -> dict[str, str]:
    if credentials.method is ClientAuthMethod.CLIENT_SECRET_BASIC:
        return {"www-authenticate": 'Basic realm="token", charset="UTF-8"'}
    return {}


def authenticate_client(
    session: Session,
    *,
    credentials: PresentedCredentials,
    verify_assertion: AssertionVerifier,
    clients: ClientCache,
    now: datetime,
) -> ClientRegistration:
    """The authenticated client, or ``InvalidClient``.

    ``verify_assertion`` checks a private_key_jwt assertion (signature with the client's
    registered keys, claims, single use) and returns the client id it names. The registration
    comes from ``clients`` (at most ``IDP_CLIENT_CACHE_SECONDS`` old); credentials refused by a
    cached registration are checked again against the database, so a change that grants
    access (a rotated secret) applies at once and only a withdrawal waits for the bound.
    """
    headers = _challenge(credentials)
    client_id = credentials.client_id
    if credentials.method is ClientAuthMethod.PRIVATE_KEY_JWT:
        client_id = verify_assertion(session, credentials, now)
    cached = clients.cached(client_id)
    if cached is not None:
        with contextlib.suppress(InvalidClient):
            return _check_credentials(cached, credentials, headers)
    client = clients.read(session, client_id)
    if client is None:
        raise InvalidClient(debug=f"unknown client {client_id[:64]!r}", headers=headers)
    return _check_credentials(client, credentials, headers)


def _check_credentials(
    client: ClientRegistration, credentials: PresentedCredentials, headers: dict[str, str]
) -> ClientRegistration:
    """The registered method was used, with the registered secret if it has one."""
    if client.token_endpoint_auth_method != credentials.method:
        raise InvalidClient(
            debug=f"client {client.client_id} registered {client.token_endpoint_auth_method}, "
            f"used {credentials.method}",
            headers=headers,
        )
    if credentials.method in (
        ClientAuthMethod.CLIENT_SECRET_BASIC,
        ClientAuthMethod.CLIENT_SECRET_POST,
    ) and not client_secret_matches(client.secret_hash, credentials.client_secret or ""):
        raise InvalidClient(debug=f"wrong secret for {client.client_id}", headers=headers)
    return client


class AssertionVerifier(Protocol):
    """Verifies a private_key_jwt client assertion and returns the client id it names."""

    def __call__(
        self, session: Session, credentials: PresentedCredentials, now: datetime
    ) -> str: ...
