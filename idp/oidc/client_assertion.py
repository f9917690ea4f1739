"""private_key_jwt client authentication: RFC 7523 sections 2.2 and 3, OIDC Core 9.

The assertion is checked against keys the client registered (``jwks``, or ``jwks_uri`` fetched
through ``outbound``), never keys named in its header (``jwk``/``jku``/``x5u``/``x5c``); the
algorithm is asymmetric and pinned to the key type; ``iss`` = ``sub`` = client; ``aud`` is the
issuer or the endpoint; ``exp`` within an hour; ``jti`` used once (replay cache in the
database, so every worker sees it). A fetched JWKS is cached in process for at most 5 minutes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.errors import InvalidClient
from idp.oidc.client_auth import PresentedCredentials
from idp.oidc.outbound import OutboundRefused, fetch_json
from idp.storage import clients as client_store
from idp.storage.models import ClientAssertionJti, ClientAuthMethod

ALLOWED_ALGS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
MAX_LIFETIME = timedelta(hours=1)
"""authlib and other RP libraries sign assertions valid for an hour by default; the jti replay
cache keeps each one until it expires, so a longer lifetime only costs a cache row."""
JWKS_CACHE_SECONDS = 300.0

_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_lock = threading.Lock()


class ClientAssertionVerifier:
    def __init__(self, settings: Settings, *, audiences: list[str]) -> None:
        self.settings = settings
        self.audiences = audiences

    def _jwks(self, client_id: str, jwks: dict[str, Any] | None, jwks_uri: str | None) -> Any:
        if jwks is not None:
            return jwks
        if jwks_uri is None:
            raise InvalidClient(debug="client has no keys")
        with _jwks_lock:
            cached = _jwks_cache.get(jwks_uri)
        if cached and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
        try:
            document = fetch_json(jwks_uri, self.settings)
        except OutboundRefused as exc:
            raise InvalidClient(debug=f"jwks_uri of {client_id}: {exc}") from None
        with _jwks_lock:
            _jwks_cache[jwks_uri] = (time.monotonic(), document)
        return document

    def _key(self, keys: Any, kid: str | None, alg: str) -> Any:
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise InvalidClient(debug="malformed JWK Set")
        candidates = [
            key
            for key in keys["keys"]
            if isinstance(key, dict)
            and key.get("kty") == KEY_TYPES[alg]
            and "d" not in key
            and (kid is None or key.get("kid") == kid)
            and key.get("alg", alg) == alg
        ]
        if len(candidates) != 1:
            raise InvalidClient(debug="no single matching client key")
        try:
            return jwt.PyJWK.from_dict(candidates[0], algorithm=alg).key
        except jwt.PyJWTError:
            raise InvalidClient(debug="unusable client key") from None

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
        key = self._key(self._jwks(client_id, client.jwks, client.jwks_uri), header.get("kid"), alg)
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
