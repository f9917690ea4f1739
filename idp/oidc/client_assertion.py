"""private_key_jwt client authentication: RFC 7523 sections 2.2 and 3, OIDC Core 9.

The assertion is checked against keys the client registered (``jwks``, or ``jwks_uri`` fetched
through ``outbound``; ``idp.oidc.client_keys``), never keys named in its header
(``jwk``/``jku``/``x5u``/``x5c``); the algorithm is asymmetric and pinned to the key type;
``iss`` = ``sub`` = client; ``aud`` is the issuer or the endpoint; ``exp`` within an hour;
``jti`` used once (replay cache in the database, so every worker sees it). A fetched JWKS is
cached in process for at most 5 minutes.

A client registered automatically through OpenID Federation (``idp.federation.registration``)
is used only while its registration is current; an expired one is resolved again first (when
the endpoint was given ``registrations``), and refused when its Trust Chain no longer resolves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.errors import InvalidClient
from idp.federation.registration import (
    AutomaticRegistrations,
    RegistrationRefused,
    registration_is_current,
)
from idp.oidc.client_auth import PresentedCredentials
from idp.oidc.client_keys import SIGNING_ALGS, ClientKeyError, client_jwks, verification_key
from idp.storage import clients as client_store
from idp.storage.models import ClientAssertionJti, ClientAuthMethod, OAuthClient

ALLOWED_ALGS = frozenset(SIGNING_ALGS)
MAX_LIFETIME = timedelta(hours=1)
"""authlib and other RP libraries sign assertions valid for an hour by default; the jti replay
cache keeps each one until it expires, so a longer lifetime only costs a cache row."""


class ClientAssertionVerifier:
    def __init__(
        self,
        settings: Settings,
        *,
        audiences: list[str],
        registrations: AutomaticRegistrations | None = None,
    ) -> None:
        self.settings = settings
        self.audiences = audiences
        self.registrations = registrations

    def _current(self, session: Session, client: OAuthClient, now: datetime) -> OAuthClient:
        """The client as it may be used now (automatic registrations: current or refreshed)."""
        if self.registrations is not None:
            try:
                return self.registrations.current(session, client, now=now)
            except RegistrationRefused as exc:
                raise InvalidClient(debug=f"automatic registration: {exc}") from None
        if not registration_is_current(client, settings=self.settings, now=now):
            raise InvalidClient(debug="automatic registration expired")
        return client

    def _key(self, client: OAuthClient, kid: str | None, alg: str) -> object:
        try:
            keys = client_jwks(self.settings, jwks=client.jwks, jwks_uri=client.jwks_uri)
            return verification_key(keys, kid=kid, alg=alg)
        except ClientKeyError as exc:
            raise InvalidClient(debug=f"client {client.client_id}: {exc}") from None

    def __call__(self, session: Session, credentials: PresentedCredentials, now: datetime) -> str:
        assertion = credentials.client_assertion or ""
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidClient(debug="unreadable client assertion") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGS or "crit" in header:
            raise InvalidClient(debug=f"assertion alg {alg!r} or crit refused")
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or unverified.get("sub") != client_id:
            raise InvalidClient(debug="assertion iss and sub must both be the client_id")
        if credentials.client_id and credentials.client_id != client_id:
            raise InvalidClient(debug="client_id does not match the assertion")
        client = client_store.get_client(session, client_id=client_id)
        if client is None or client.token_endpoint_auth_method != ClientAuthMethod.PRIVATE_KEY_JWT:
            raise InvalidClient(debug="client unknown or not registered for private_key_jwt")
        client = self._current(session, client, now)
        key = self._key(client, header.get("kid"), alg)
        leeway = self.settings.clock_skew_seconds
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=self.audiences,
                issuer=client_id,
                leeway=leeway,
                options={"require": ["iss", "sub", "aud", "exp", "jti"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidClient(debug=f"assertion: {type(exc).__name__}") from None
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        if expires - now > MAX_LIFETIME:
            raise InvalidClient(debug="assertion lives too long")
        issued = claims.get("iat")
        if isinstance(issued, int | float) and issued > now.timestamp() + leeway:
            raise InvalidClient(debug="assertion issued in the future")
        jti = str(claims["jti"])[:255]
        try:
            with session.begin_nested():
                session.add(ClientAssertionJti(client_id=client_id, jti=jti, expires_at=expires))
        except IntegrityError:
            raise InvalidClient(debug="assertion jti replayed") from None
        return client_id
