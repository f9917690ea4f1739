"""Signed request objects at the authorization endpoint: OpenID Connect Core 1.0 section 6.1 and
RFC 9101 (JWT-Secured Authorization Request), by value only (``request_uri`` is refused).

Any client with keys (``jwks`` or ``jwks_uri``) may send one; a relying party registered
automatically through OpenID Federation must (Federation 1.0 section 12.1.1.1). The checks:

- signature with the client's registered keys only (``idp.oidc.client_keys``: never ``jwk``,
  ``jku``, ``x5u`` or ``x5c`` headers); ``alg`` one of ``client_keys.SIGNING_ALGS`` (so never
  ``none`` nor HMAC), pinned to the key type and to the client's
  ``request_object_signing_alg`` when it registered one; no ``crit`` header;
- ``typ`` (RFC 9101 section 10.8, explicit typing): ``oauth-authz-req+jwt`` for automatically
  registered clients. Statically registered clients may also leave it out or send ``JWT``
  (OpenID Connect Core 6.1 predates RFC 9101 and most relying party libraries send no ``typ``;
  RFC 9101 section 4 only says SHOULD); any other ``typ`` is refused, so that no other kind of
  JWT of the client (an ``entity-statement+jwt``, ...) passes for a request;
- ``iss`` = the client, ``aud`` = this provider's issuer (a string or a list holding it);
  ``exp`` required and at most ``MAX_LIFETIME_SECONDS`` ahead; ``iat`` and ``nbf``, when
  present, not in the future beyond ``IDP_CLOCK_SKEW_SECONDS``; a ``jti`` (required), used once
  within the object's lifetime (the ``client_assertion_jti`` replay cache, shared with
  client assertions under a prefix: an insert under a unique key, so concurrent workers and
  PostgreSQL agree);
- ``client_id`` and ``response_type`` are present and ``client_id`` is the client's; no
  ``request`` or ``request_uri`` inside (RFC 9101 section 4).

Every failure is ``invalid_request_object`` (OpenID Connect Core 3.1.2.6); the reason goes to
the log only. Which parameters are then used is ``idp.oidc.authorize``'s business (RFC 9101
section 6.3: only those of the request object).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.errors import ProviderError
from idp.oidc.client_keys import SIGNING_ALGS, ClientKeyError, client_jwks, verification_key
from idp.storage.models import ClientAssertionJti, OAuthClient, RegistrationType

REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
"""RFC 9101 section 10.2 (the media type ``application/oauth-authz-req+jwt``)."""
LEGACY_TYPES = frozenset({"jwt"})
"""``typ`` values also accepted from statically registered clients (besides none at all)."""
MAX_LIFETIME_SECONDS = 300
"""Longest ``exp`` ahead of now: a request object is carried by the browser at once."""
JTI_PREFIX = "request:"
"""Request object ``jti`` values share the client assertion replay cache under this prefix."""
MAX_JTI_LENGTH = 255


class InvalidRequestObject(ProviderError):
    """OpenID Connect Core 3.1.2.6: "The request parameter contains an invalid Request
    Object"."""

    error = "invalid_request_object"
    status_code = 400
    redirectable = True
    default_description = "The request object is not valid."


@dataclass(frozen=True, slots=True)
class VerifiedRequestObject:
    claims: dict[str, Any]
    jti: str
    expires_at: datetime


def _typ_accepted(typ: object, *, explicit: bool) -> bool:
    if not isinstance(typ, str):
        return typ is None and not explicit
    value = typ.lower().removeprefix("application/")
    return value == REQUEST_OBJECT_TYP or (not explicit and value in LEGACY_TYPES)


def verify_request_object(
    token: str,
    *,
    client: OAuthClient,
    keys: Any,
    issuer: str,
    now: datetime,
    leeway: int,
) -> VerifiedRequestObject:
    """The verified claims of ``token``, sent by ``client``; raises
    :class:`InvalidRequestObject`. No database, no network: ``keys`` is the client's JWK Set."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidRequestObject(debug="unreadable request object") from None
    alg = header.get("alg")
    if alg not in SIGNING_ALGS or "crit" in header:
        raise InvalidRequestObject(debug=f"request object alg {alg!r} or crit refused")
    if client.request_object_signing_alg and alg != client.request_object_signing_alg:
        raise InvalidRequestObject(debug=f"client signs request objects with another alg {alg}")
    explicit = client.registration_type == RegistrationType.AUTOMATIC
    if not _typ_accepted(header.get("typ"), explicit=explicit):
        raise InvalidRequestObject(debug=f"request object typ {header.get('typ')!r} refused")
    kid = header.get("kid")
    try:
        key = verification_key(keys, kid=kid if isinstance(kid, str) else None, alg=alg)
    except ClientKeyError as exc:
        raise InvalidRequestObject(debug=f"request object key: {exc}") from None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=issuer,
            issuer=client.client_id,
            options={
                "require": ["iss", "aud", "exp", "jti"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidRequestObject(debug=f"request object: {type(exc).__name__}") from None
    instant = now.timestamp()
    expires = claims["exp"]
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise InvalidRequestObject(debug="request object exp is not a number")
    if expires <= instant - leeway:
        raise InvalidRequestObject(debug="request object expired")
    if expires > instant + MAX_LIFETIME_SECONDS + leeway:
        raise InvalidRequestObject(debug="request object lives too long")
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidRequestObject(debug=f"request object {name} is not a number")
        if value > instant + leeway:
            raise InvalidRequestObject(debug=f"request object {name} is in the future")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise InvalidRequestObject(debug="request object jti must be a non-empty string")
    if claims.get("client_id") != client.client_id:
        raise InvalidRequestObject(debug="request object client_id is not the client's")
    if not isinstance(claims.get("response_type"), str):
        raise InvalidRequestObject(debug="request object has no response_type")
    if "request" in claims or "request_uri" in claims:
        raise InvalidRequestObject(debug="request object contains request or request_uri")
    return VerifiedRequestObject(
        claims=claims,
        jti=jti,
        expires_at=datetime.fromtimestamp(int(expires) + leeway + 1, UTC),
    )


class RequestObjectOpener:
    """Verifies the request object of one authorization request (keys from the client's
    registration) and, once the whole request is valid, spends its ``jti``."""

    def __init__(self, session: Session, settings: Settings, *, now: datetime) -> None:
        self._session = session
        self._settings = settings
        self._now = now
        self._verified: tuple[str, VerifiedRequestObject] | None = None

    def __call__(self, token: str, client: OAuthClient) -> dict[str, Any]:
        try:
            keys = client_jwks(self._settings, jwks=client.jwks, jwks_uri=client.jwks_uri)
        except ClientKeyError as exc:
            raise InvalidRequestObject(debug=f"request object key: {exc}") from None
        verified = verify_request_object(
            token,
            client=client,
            keys=keys,
            issuer=self._settings.issuer,
            now=self._now,
            leeway=self._settings.clock_skew_seconds,
        )
        self._verified = (client.client_id, verified)
        return dict(verified.claims)

    def spend(self) -> None:
        """Record the verified object's ``jti`` (no-op without one); a ``jti`` seen before
        within its lifetime is :class:`InvalidRequestObject`."""
        if self._verified is None:
            return
        client_id, verified = self._verified
        jti = (JTI_PREFIX + verified.jti)[:MAX_JTI_LENGTH]
        try:
            with self._session.begin_nested():
                self._session.add(
                    ClientAssertionJti(client_id=client_id, jti=jti, expires_at=verified.expires_at)
                )
        except IntegrityError:
            raise InvalidRequestObject(debug="request object jti replayed") from None
        self._verified = None
