"""Entity Statements: signing and strict verification (OpenID Federation 1.0, section 3).

An Entity Statement is a signed JWT (section 3, "Entity Statement") explicitly typed
``entity-statement+jwt`` (RFC 8725 section 3.11). Verification follows section 3.2
"Entity Statement Validation" and RFC 8725 section 3.1:

- the token is a JWS Compact Serialization of bounded size whose header and payload are JSON
  objects without duplicate member names (section 6.1.2 forbids duplicates in policies; we
  refuse them everywhere, so that every parser sees the same statement);
- ``typ`` is exactly ``entity-statement+jwt``; ``alg`` is an asymmetric algorithm pinned to the
  key's type (never ``none``, never ``HS*``); ``kid`` is a non-empty string naming a key of the
  issuer's JWK Set, which the caller supplies: keys in ``jwk``/``jku``/``x5u``/``x5c`` headers are
  never used;
- a ``crit`` header is refused (we understand no JWS extensions); a ``crit`` claim may only name
  claims that are not defined by the specification and that we understand (none, so far);
- the ``trust_chain`` and ``peer_trust_chain`` headers are refused: section 4.3 forbids them in
  Entity Statements;
- ``iss``, ``sub``, ``iat``, ``exp`` and ``jwks`` are required; ``iat`` is not in the future and
  ``exp`` is in the future (both with a small leeway for clock skew);
- claims that only Entity Configurations may carry (``authority_hints``, ``trust_anchor_hints``,
  ``trust_marks``...) and claims that only Subordinate Statements may carry
  (``metadata_policy``, ``metadata_policy_crit``, ``constraints``, ``source_endpoint``) are
  checked against the kind of statement, and ``metadata`` must not use ``null`` values.

Signature verification is done by PyJWT; nothing here implements cryptography.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, cast

import jwt
from jwt.algorithms import get_default_algorithms

ENTITY_STATEMENT_TYP = "entity-statement+jwt"
"""The ``typ`` header of every Entity Statement (section 3)."""

ENTITY_STATEMENT_MEDIA_TYPE = "application/entity-statement+jwt"
"""Content type of configuration and fetch endpoint responses (sections 8.1.2 and 9.2)."""

MAX_STATEMENT_LENGTH = 64 * 1024
"""Longest compact JWS we parse; a statement with metadata and keys is a few kilobytes."""

MAX_JWKS_KEYS = 16
DEFAULT_LEEWAY_SECONDS = 30

DEFAULT_ALLOWED_ALGORITHMS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric JWS algorithms accepted unless the caller narrows them."""

_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHM_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_OKP_CURVES = frozenset({"Ed25519", "Ed448"})
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

# Claims defined by the specification (section 3.1): a ``crit`` claim must not list them.
SPECIFICATION_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "iat",
        "exp",
        "jwks",
        "metadata",
        "crit",
        "authority_hints",
        "trust_anchor_hints",
        "trust_marks",
        "trust_mark_issuers",
        "trust_mark_owners",
        "constraints",
        "metadata_policy",
        "metadata_policy_crit",
        "source_endpoint",
        "trust_anchor",
        "aud",
    }
)
UNDERSTOOD_CRITICAL_CLAIMS: frozenset[str] = frozenset()
"""Extension claims that a ``crit`` claim may name; we implement none yet."""

_CONFIGURATION_ONLY_CLAIMS = (
    "authority_hints",
    "trust_anchor_hints",
    "trust_marks",
    "trust_mark_issuers",
    "trust_mark_owners",
)
_SUBORDINATE_ONLY_CLAIMS = (
    "metadata_policy",
    "metadata_policy_crit",
    "constraints",
    "source_endpoint",
)
_FORBIDDEN_HEADERS = ("trust_chain", "peer_trust_chain", "b64")


class Reason(StrEnum):
    """Machine-readable reasons for refusing a statement or a Trust Chain."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    WRONG_TYP = "wrong_typ"
    UNSUPPORTED_ALG = "unsupported_alg"
    UNKNOWN_KID = "unknown_kid"
    INVALID_JWKS = "invalid_jwks"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_CRITICAL = "unknown_critical"
    MISSING_CLAIM = "missing_claim"
    ISSUED_IN_FUTURE = "issued_in_future"
    EXPIRED = "expired"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_SUBJECT = "wrong_subject"
    BROKEN_LINK = "broken_link"
    UNKNOWN_TRUST_ANCHOR = "unknown_trust_anchor"
    LOOP = "loop"
    PATH_TOO_LONG = "path_too_long"
    FETCH_LIMIT = "fetch_limit"
    FETCH_FAILED = "fetch_failed"
    INVALID_POLICY = "invalid_policy"
    POLICY_CONFLICT = "policy_conflict"
    POLICY_VIOLATION = "policy_violation"
    UNKNOWN_CRITICAL_OPERATOR = "unknown_critical_operator"
    CONSTRAINT_VIOLATION = "constraint_violation"
    INVALID_METADATA = "invalid_metadata"
    MISSING_ENTITY_TYPE = "missing_entity_type"


class TrustChainError(ValueError):
    """A statement or Trust Chain was refused.

    ``reason`` is a fixed machine code (a :class:`Reason` value); the message is plain English
    for logs and operators. Neither contains key material.
    """

    def __init__(self, reason: Reason | str, message: str) -> None:
        super().__init__(message)
        self.reason = Reason(reason)
        self.message = message

    def __repr__(self) -> str:
        return f"TrustChainError({self.reason.value!r}, {self.message!r})"


# --- parsing -------------------------------------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise TrustChainError(Reason.MALFORMED, f"duplicate JSON member {name!r}")
        result[name] = value
    return result


def _reject_constant(name: str) -> Any:
    raise TrustChainError(Reason.MALFORMED, f"non-standard JSON constant {name}")


def parse_json_object(data: bytes | str, *, what: str) -> dict[str, Any]:
    """Parse strict JSON (no duplicate names, no NaN/Infinity) that must be an object."""
    try:
        value = json.loads(
            data, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except TrustChainError:
        raise
    except (ValueError, RecursionError) as exc:
        raise TrustChainError(Reason.MALFORMED, f"{what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise TrustChainError(Reason.MALFORMED, f"{what} is not a JSON object")
    return value


def _b64url_decode(segment: str, *, what: str) -> bytes:
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise TrustChainError(Reason.MALFORMED, f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TrustChainError(Reason.MALFORMED, f"{what} is not base64url") from exc


def decode_unverified(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a compact JWS into its header and claims, without checking the signature.

    Only structure is checked here: a string of at most :data:`MAX_STATEMENT_LENGTH` ASCII
    characters, three non-empty base64url segments, header and payload strict JSON objects.
    Nothing returned may be trusted before :func:`verify_entity_statement` succeeds.
    """
    if not isinstance(token, str) or not token:
        raise TrustChainError(Reason.MALFORMED, "the statement is not a non-empty string")
    if len(token) > MAX_STATEMENT_LENGTH:
        raise TrustChainError(
            Reason.TOO_LARGE, f"the statement is longer than {MAX_STATEMENT_LENGTH} characters"
        )
    if not token.isascii():
        raise TrustChainError(Reason.MALFORMED, "the statement contains non-ASCII characters")
    segments = token.split(".")
    if len(segments) != 3:
        raise TrustChainError(
            Reason.MALFORMED, "the statement is not a JWS compact serialization (three segments)"
        )
    header = parse_json_object(_b64url_decode(segments[0], what="the header"), what="the header")
    claims = parse_json_object(_b64url_decode(segments[1], what="the payload"), what="the payload")
    if segments[2]:  # empty for alg "none", which the header checks refuse with a clear reason
        _b64url_decode(segments[2], what="the signature")
    return header, claims


# --- keys ----------------------------------------------------------------------------------


def algorithms_for_key(jwk: Mapping[str, Any]) -> frozenset[str]:
    """The JWS algorithms a public JWK may verify (RFC 8725 section 3.1: pin alg to key)."""
    kty, crv, declared = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    algorithms: frozenset[str] = frozenset()
    if kty == "RSA":
        algorithms = _RSA_ALGORITHMS
    elif kty == "EC" and isinstance(crv, str) and crv in _EC_ALGORITHM_BY_CURVE:
        algorithms = frozenset({_EC_ALGORITHM_BY_CURVE[crv]})
    elif kty == "OKP" and isinstance(crv, str) and crv in _OKP_CURVES:
        algorithms = frozenset({"EdDSA"})
    if declared is not None:
        algorithms = algorithms & {declared} if isinstance(declared, str) else frozenset()
    return algorithms


def index_jwks(jwks: object) -> dict[str, dict[str, Any]]:
    """Validate a federation JWK Set (section 3.1 ``jwks``) and index its keys by ``kid``.

    Every key must be an asymmetric public signing key with a unique non-empty ``kid``.
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise TrustChainError(Reason.INVALID_JWKS, "jwks is not a JWK Set")
    keys = jwks["keys"]
    if not keys:
        raise TrustChainError(Reason.INVALID_JWKS, "the JWK Set is empty")
    if len(keys) > MAX_JWKS_KEYS:
        raise TrustChainError(Reason.INVALID_JWKS, "the JWK Set has too many keys")
    indexed: dict[str, dict[str, Any]] = {}
    for key in keys:
        if not isinstance(key, dict):
            raise TrustChainError(Reason.INVALID_JWKS, "a JWK is not an object")
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TrustChainError(Reason.INVALID_JWKS, "a JWK has no kid")
        if kid in indexed:
            raise TrustChainError(Reason.INVALID_JWKS, f"duplicate kid {kid!r} in the JWK Set")
        if _PRIVATE_JWK_MEMBERS & key.keys():
            raise TrustChainError(Reason.INVALID_JWKS, f"JWK {kid!r} is not a public key")
        if key.get("use", "sig") != "sig":
            raise TrustChainError(Reason.INVALID_JWKS, f"JWK {kid!r} is not a signing key")
        if not algorithms_for_key(key):
            raise TrustChainError(
                Reason.INVALID_JWKS, f"JWK {kid!r} is not a supported signing key type"
            )
        indexed[kid] = key
    return indexed


def public_jwk(public_or_private_key: Any, *, kid: str, alg: str) -> dict[str, Any]:
    """The public JWK (with ``kid``, ``alg`` and ``use``) of a ``cryptography`` key."""
    algorithm = get_default_algorithms()[alg]
    key = getattr(public_or_private_key, "public_key", None)
    public_key = key() if callable(key) else public_or_private_key
    jwk = algorithm.to_jwk(public_key, as_dict=True)  # type: ignore[attr-defined]
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


# --- signing -------------------------------------------------------------------------------


def sign_entity_statement(claims: dict[str, Any], *, private_key: Any, kid: str, alg: str) -> str:
    """Sign an Entity Statement as a compact JWS with ``typ: entity-statement+jwt`` and ``kid``."""
    if alg not in DEFAULT_ALLOWED_ALGORITHMS:
        raise ValueError(f"{alg!r} is not an asymmetric JWS algorithm we sign with")
    if not kid:
        raise ValueError("Entity Statements must carry a kid (section 3)")
    return jwt.encode(
        claims, private_key, algorithm=alg, headers={"typ": ENTITY_STATEMENT_TYP, "kid": kid}
    )


# --- verification --------------------------------------------------------------------------


def _check_header(header: dict[str, Any], *, allowed_algs: Collection[str]) -> tuple[str, str]:
    typ = header.get("typ")
    if typ != ENTITY_STATEMENT_TYP:
        raise TrustChainError(
            Reason.WRONG_TYP, f"typ is {typ!r}, expected {ENTITY_STATEMENT_TYP!r}"
        )
    if "crit" in header:
        raise TrustChainError(
            Reason.UNKNOWN_CRITICAL, "the crit header names extensions we do not understand"
        )
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise TrustChainError(
                Reason.MALFORMED, f"the {name} header is not allowed in an Entity Statement"
            )
    alg = header.get("alg")
    if (
        not isinstance(alg, str)
        or alg.lower() == "none"
        or alg.upper().startswith("HS")
        or alg not in allowed_algs
        or alg not in DEFAULT_ALLOWED_ALGORITHMS
    ):
        raise TrustChainError(Reason.UNSUPPORTED_ALG, f"algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TrustChainError(Reason.UNKNOWN_KID, "the statement has no kid header")
    return alg, kid


def verify_signature(token: str, *, alg: str, kid: str, jwks: object) -> None:
    """Verify the JWS signature with the key ``kid`` of ``jwks``, pinned to ``alg``."""
    keys = index_jwks(jwks)
    jwk = keys.get(kid)
    if jwk is None:
        raise TrustChainError(Reason.UNKNOWN_KID, f"kid {kid!r} is not in the issuer's JWK Set")
    if alg not in algorithms_for_key(jwk):
        raise TrustChainError(
            Reason.UNSUPPORTED_ALG, f"algorithm {alg} does not match the type of key {kid!r}"
        )
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
        jwt.PyJWS().decode_complete(token, key=key, algorithms=[alg])
    except jwt.InvalidSignatureError as exc:
        raise TrustChainError(Reason.BAD_SIGNATURE, "the signature does not verify") from exc
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise TrustChainError(
            Reason.BAD_SIGNATURE, f"the signature cannot be verified ({type(exc).__name__})"
        ) from exc


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 2**53
    )


def _check_string_list(claims: dict[str, Any], name: str) -> None:
    if name not in claims:
        return
    value = claims[name]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise TrustChainError(Reason.MALFORMED, f"{name} must be a non-empty array of strings")


def _check_metadata(claims: dict[str, Any]) -> None:
    metadata = claims.get("metadata")
    if metadata is None and "metadata" not in claims:
        return
    if not isinstance(metadata, dict):
        raise TrustChainError(Reason.MALFORMED, "metadata must be a JSON object")
    for entity_type, parameters in metadata.items():
        if not isinstance(parameters, dict):
            raise TrustChainError(
                Reason.MALFORMED, f"metadata for {entity_type!r} must be a JSON object"
            )
        for name, value in parameters.items():
            if value is None:
                raise TrustChainError(
                    Reason.MALFORMED, f"metadata parameter {entity_type}.{name} is null"
                )


def check_claims(
    claims: dict[str, Any],
    *,
    now: int,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    expected_iss: str | None = None,
    expected_sub: str | None = None,
) -> None:
    """The claim checks of section 3.2 that need no key (required claims, times, kinds)."""
    for name in ("iss", "sub"):
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise TrustChainError(Reason.MISSING_CLAIM, f"the {name} claim is missing")
    for name in ("iat", "exp"):
        if not _is_number(claims.get(name)):
            raise TrustChainError(Reason.MISSING_CLAIM, f"the {name} claim is missing")
    if "jwks" not in claims:
        raise TrustChainError(Reason.MISSING_CLAIM, "the jwks claim is missing")
    index_jwks(claims["jwks"])
    if claims["iat"] > now + leeway:
        raise TrustChainError(Reason.ISSUED_IN_FUTURE, "the statement is issued in the future")
    if claims["exp"] <= now - leeway:
        raise TrustChainError(Reason.EXPIRED, "the statement has expired")
    if expected_iss is not None and claims["iss"] != expected_iss:
        raise TrustChainError(
            Reason.WRONG_ISSUER, f"iss is {claims['iss']!r}, expected {expected_iss!r}"
        )
    if expected_sub is not None and claims["sub"] != expected_sub:
        raise TrustChainError(
            Reason.WRONG_SUBJECT, f"sub is {claims['sub']!r}, expected {expected_sub!r}"
        )
    if "crit" in claims:
        crit = claims["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            raise TrustChainError(Reason.MALFORMED, "crit must be a non-empty array of strings")
        for name in crit:
            if name in SPECIFICATION_CLAIMS:
                raise TrustChainError(
                    Reason.MALFORMED, f"crit lists {name!r}, a claim of the specification"
                )
            if name not in UNDERSTOOD_CRITICAL_CLAIMS:
                raise TrustChainError(
                    Reason.UNKNOWN_CRITICAL, f"critical claim {name!r} is not understood"
                )
    is_configuration = claims["iss"] == claims["sub"]
    wrong_place = _SUBORDINATE_ONLY_CLAIMS if is_configuration else _CONFIGURATION_ONLY_CLAIMS
    for name in wrong_place:
        if name in claims:
            kind = "an Entity Configuration" if is_configuration else "a Subordinate Statement"
            raise TrustChainError(Reason.MALFORMED, f"{name} is not allowed in {kind}")
    _check_string_list(claims, "authority_hints")
    _check_string_list(claims, "trust_anchor_hints")
    _check_string_list(claims, "metadata_policy_crit")
    _check_metadata(claims)
    for name in ("metadata_policy", "constraints"):
        if name in claims and not isinstance(claims[name], dict):
            raise TrustChainError(Reason.MALFORMED, f"{name} must be a JSON object")
    if "source_endpoint" in claims and not isinstance(claims["source_endpoint"], str):
        raise TrustChainError(Reason.MALFORMED, "source_endpoint must be a URL")


def verify_entity_statement(
    token: object,
    *,
    jwks: object,
    now: int,
    expected_iss: str | None = None,
    expected_sub: str | None = None,
    allowed_algs: Collection[str] = DEFAULT_ALLOWED_ALGORITHMS,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
) -> dict[str, Any]:
    """Verify an Entity Statement with the issuer's ``jwks`` and return its claims.

    ``jwks`` is the issuer's JWK Set as the caller trusts it (a pinned Trust Anchor key set,
    the ``jwks`` of the superior's Subordinate Statement, or, for the self-signature of an
    Entity Configuration, its own ``jwks``). Raises :class:`TrustChainError` on any failure.
    """
    header, claims = decode_unverified(token)
    alg, kid = _check_header(header, allowed_algs=allowed_algs)
    verify_signature(cast(str, token), alg=alg, kid=kid, jwks=jwks)
    check_claims(
        claims, now=now, leeway=leeway, expected_iss=expected_iss, expected_sub=expected_sub
    )
    return claims
