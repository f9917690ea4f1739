"""A client's public keys, as the provider uses them to verify what the client signs:
``private_key_jwt`` client assertions (RFC 7523, ``idp.oidc.client_assertion``) and signed
request objects (RFC 9101, ``idp.oidc.request_object``).

Keys come only from the client's registration: its ``jwks``, or its ``jwks_uri`` fetched with
the outbound rules (``idp.oidc.outbound``) and cached in process for at most five minutes.
Never from the signed object itself (``jwk``, ``jku``, ``x5u``, ``x5c`` headers are ignored).
The algorithm is asymmetric and pinned to the key: its type (``kty``), its curve for EC and
OKP keys, and its ``alg`` and ``use`` when the key states them; a key with private members is
never used.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt

from idp.config import Settings
from idp.oidc.outbound import OutboundRefused, fetch_json

SIGNING_ALGS = ("RS256", "PS256", "ES256", "EdDSA")
"""Algorithms accepted for what clients sign (no ``none``, no HMAC)."""
KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
CURVES = {"ES256": ("P-256",), "EdDSA": ("Ed25519", "Ed448")}
JWKS_CACHE_SECONDS = 300.0

_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_lock = threading.Lock()


class ClientKeyError(ValueError):
    """No usable key: one sentence for the log (never shown to the client)."""


def client_jwks(
    settings: Settings, *, jwks: dict[str, Any] | None, jwks_uri: str | None
) -> dict[str, Any]:
    """The client's JWK Set: registered inline, else fetched from its ``jwks_uri``."""
    if jwks is not None:
        return jwks
    if jwks_uri is None:
        raise ClientKeyError("the client has no keys")
    with _jwks_lock:
        cached = _jwks_cache.get(jwks_uri)
    if cached and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
        return cached[1]
    try:
        document = fetch_json(jwks_uri, settings)
    except OutboundRefused as exc:
        raise ClientKeyError(f"jwks_uri: {exc}") from None
    if not isinstance(document, dict):
        raise ClientKeyError("jwks_uri did not serve a JWK Set")
    with _jwks_lock:
        _jwks_cache[jwks_uri] = (time.monotonic(), document)
    return document


def verification_key(keys: Any, *, kid: str | None, alg: str) -> Any:
    """The one public key of ``keys`` that can verify ``alg`` (matching ``kid`` when given)."""
    if alg not in KEY_TYPES:
        raise ClientKeyError(f"algorithm {alg!r} is not accepted")
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise ClientKeyError("malformed JWK Set")
    candidates = [
        key
        for key in keys["keys"]
        if isinstance(key, dict)
        and key.get("kty") == KEY_TYPES[alg]
        and (alg not in CURVES or key.get("crv") in CURVES[alg])
        and "d" not in key
        and (kid is None or key.get("kid") == kid)
        and key.get("alg", alg) == alg
        and key.get("use", "sig") == "sig"
    ]
    if len(candidates) != 1:
        raise ClientKeyError("no single matching client key")
    try:
        return jwt.PyJWK.from_dict(candidates[0], algorithm=alg).key
    except jwt.PyJWTError:
        raise ClientKeyError("unusable client key") from None
