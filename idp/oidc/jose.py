"""Signing and strict verification of the provider's own JWTs (RFC 7515, RFC 7519, RFC 8725).

Verification rules (RFC 8725 3.1, 3.11): the ``alg`` must be the one pinned to the ``kid``'s
key (never ``none``, never a symmetric algorithm keyed with a public key); ``typ`` must be the
expected one, so that an ID token is never accepted as an access token or a logout token;
``crit`` is refused (we understand no extensions); keys come only from our key ring, never from
``jwk``/``jku``/``x5u``/``x5c`` headers; ``exp``, ``iat``, ``iss`` and ``aud`` are required and
checked with a small clock skew.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from idp.signing_keys.keyring import KeyRing

MAX_TOKEN_LENGTH = 16 * 1024
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})


class TokenInvalid(ValueError):
    """A JWT failed verification; the message is for logs, not for clients."""


BASE64URL_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header alone, to choose the key: only the first segment is decoded.

    ``jwt.get_unverified_header`` decodes and checks all three segments (character by
    character, in Python) and ``jwt.decode`` then does it all again; with the header read here,
    PyJWT parses each token once, and still checks every segment strictly itself."""
    segment = token.partition(".")[0]
    if not BASE64URL_SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise TokenInvalid("unreadable header: not base64url")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise TokenInvalid(f"unreadable header: {exc}") from None
    if not isinstance(header, dict):
        raise TokenInvalid("unreadable header: not a JSON object")
    return header


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    kid: str
    alg: str
    claims: dict[str, Any]


def sign(keyring: KeyRing, claims: dict[str, Any], *, alg: str, typ: str) -> str:
    material = keyring.signing_material(alg)
    return jwt.encode(
        claims,
        material.private_key,  # type: ignore[arg-type]
        algorithm=alg,
        headers={"kid": material.kid, "typ": typ},
    )


def _normalise_typ(value: str) -> str:
    value = value.lower()
    return value.removeprefix("application/")


def verify(
    token: str,
    *,
    keyring: KeyRing,
    typ: str | Iterable[str],
    issuer: str,
    audience: str | Iterable[str] | None,
    leeway: float,
    verify_exp: bool = True,
) -> VerifiedToken:
    """Verify one of our own tokens, or raise ``TokenInvalid``."""
    if (
        not token
        or len(token) > MAX_TOKEN_LENGTH
        or not token.isascii()  # base64url and dots only; also keeps surrogates out of PyJWT
        or token.count(".") != 2
    ):
        raise TokenInvalid("not a compact JWS of acceptable size")
    header = unverified_header(token)
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise TokenInvalid(f"algorithm {alg!r} is not accepted")
    if "crit" in header:
        raise TokenInvalid("the crit header is not supported")
    expected_types = {typ} if isinstance(typ, str) else set(typ)
    token_type = header.get("typ")
    if not isinstance(token_type, str) or _normalise_typ(token_type) not in {
        _normalise_typ(t) for t in expected_types
    }:
        raise TokenInvalid(f"unexpected typ {token_type!r}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenInvalid("no kid")
    key = keyring.published_key(kid)
    if key is None:
        raise TokenInvalid("unknown or revoked kid")
    if key.alg != alg:
        raise TokenInvalid("algorithm does not match the key")
    options: dict[str, Any] = {
        "require": ["exp", "iat", "iss"] if verify_exp else ["iat", "iss"],
        "verify_exp": verify_exp,
        "verify_aud": audience is not None,
    }
    try:
        claims = jwt.decode(
            token,
            key.public_key,  # type: ignore[arg-type]
            algorithms=[key.alg],
            issuer=issuer,
            audience=audience,  # type: ignore[arg-type]
            leeway=leeway,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"{type(exc).__name__}: {exc}") from None
    return VerifiedToken(kid=kid, alg=alg, claims=claims)
