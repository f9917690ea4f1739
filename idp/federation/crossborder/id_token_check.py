"""Strict validation of a peer provider's ID token (OpenID Connect Core 1.0 section 3.1.3.7,
RFC 8725), with keys that the federation vouches for.

The keys are the ``jwks`` of the peer's *resolved* ``openid_provider`` metadata (its Trust
Chain), or a JWK Set the caller fetched from the resolved ``jwks_uri`` and passes in; never a
key named in the token (``jwk``, ``jku``, ``x5u``, ``x5c`` headers are ignored). In order:

1. a compact JWS of at most :data:`MAX_TOKEN_LENGTH` ASCII characters, strict JSON header and
   payload (no duplicate members);
2. header: ``alg`` asymmetric, listed in the peer's ``id_token_signing_alg_values_supported``
   and pinned to the key's type (RFC 8725 section 3.1); ``typ``, if present, is ``JWT``
   (RFC 7519 section 5.1); no ``crit``; the key is the one named by ``kid``, or, without a
   ``kid``, the only key of the set that can verify ``alg``;
3. signature (PyJWT), then ``iss`` equal to the peer's issuer byte for byte (Core step 2),
   ``aud`` containing our ``client_id`` and, with several audiences, ``azp`` equal to it (steps
   3-5), ``exp`` in the future and ``iat`` not in the future and not older than
   ``max_age_seconds`` (steps 9-10), within ``leeway``;
4. ``nonce`` equal to the one we sent (step 11), ``sub`` a non-empty string of at most 255
   characters (Core 2);
5. ``acr`` present when a level was requested (step 12), and its mapped level at or above the
   requested one (``level_too_low``).

Every failure is a :class:`~idp.federation.crossborder.errors.CrossBorderRefused`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import jwt

from idp.federation.crossborder.acr_mapping import AcrTable, require_level
from idp.federation.crossborder.errors import CrossBorderRefused, Refusal
from idp.federation.crossborder.peers import Peer
from idp.federation.statements import TrustChainError, algorithms_for_key, decode_unverified

MAX_TOKEN_LENGTH = 16 * 1024
DEFAULT_LEEWAY_SECONDS = 30
DEFAULT_MAX_AGE_SECONDS = 600
"""An ID token is used at once by the code flow; an older ``iat`` is refused."""
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ACCEPTED_TYPES = frozenset({"jwt", "application/jwt"})


def _refuse(reason: Refusal, message: str) -> CrossBorderRefused:
    return CrossBorderRefused(reason, message)


def _parse(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(token, str) or not token:
        raise _refuse(Refusal.MALFORMED, "the ID token is not a non-empty string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _refuse(Refusal.MALFORMED, "the ID token is too long")
    try:
        return decode_unverified(token)
    except TrustChainError as exc:
        raise _refuse(Refusal.MALFORMED, f"the ID token: {exc.message}") from None


def _check_header(header: Mapping[str, Any], peer: Peer) -> str:
    alg = header.get("alg")
    if (
        not isinstance(alg, str)
        or alg not in ASYMMETRIC_ALGORITHMS
        or alg not in peer.id_token_signing_alg_values_supported
    ):
        raise _refuse(Refusal.UNSUPPORTED_ALG, f"ID token algorithm {alg!r} is not accepted")
    if "crit" in header:
        raise _refuse(Refusal.MALFORMED, "the ID token has a crit header")
    if "typ" in header:
        typ = header["typ"]
        if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
            raise _refuse(Refusal.WRONG_TYP, f"ID token typ {typ!r} is not JWT")
    return alg


def _select_key(jwks: object, *, kid: object, alg: str, issuer: str) -> Any:
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise _refuse(Refusal.PEER_UNTRUSTED, f"the JWK Set of {issuer} is not a JWK Set")
    if kid is not None and not isinstance(kid, str):
        raise _refuse(Refusal.MALFORMED, "the ID token's kid is not a string")
    candidates = [
        key
        for key in jwks["keys"]
        if isinstance(key, dict)
        and not (_PRIVATE_MEMBERS & key.keys())
        and key.get("use", "sig") == "sig"
        and alg in algorithms_for_key(key)
        and (kid is None or key.get("kid") == kid)
    ]
    if len(candidates) != 1:
        raise _refuse(
            Refusal.BAD_SIGNATURE,
            f"no single key of {issuer} with kid {kid!r} verifies {alg}",
        )
    try:
        return jwt.PyJWK.from_dict(candidates[0], algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise _refuse(
            Refusal.PEER_UNTRUSTED, f"the key {kid!r} of {issuer} is unusable ({exc})"
        ) from None


def _decode(
    token: str, *, key: Any, alg: str, peer: Peer, client_id: str, leeway: int
) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=peer.issuer,
            audience=client_id,
            leeway=leeway,
            options={
                "require": ["iss", "sub", "aud", "exp", "iat"],
                "verify_iat": False,  # checked below against ``now``
                "verify_exp": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _refuse(
            Refusal.BAD_SIGNATURE, f"the ID token from {peer.issuer}: bad signature"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise _refuse(Refusal.MISSING_CLAIM, f"the ID token has no {exc.claim}") from None
    except jwt.InvalidIssuerError:
        raise _refuse(Refusal.WRONG_ISSUER, f"the ID token's iss is not {peer.issuer!r}") from None
    except jwt.InvalidAudienceError:
        raise _refuse(
            Refusal.WRONG_AUDIENCE, f"the ID token's aud does not contain {client_id!r}"
        ) from None
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise _refuse(
            Refusal.MALFORMED, f"the ID token from {peer.issuer}: {type(exc).__name__}"
        ) from None


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _refuse(Refusal.INVALID_CLAIM, f"the ID token's {name} is not a number")
    return float(value)


def _check_claims(
    claims: Mapping[str, Any],
    *,
    peer: Peer,
    client_id: str,
    nonce: str,
    now: int,
    leeway: int,
    max_age: int,
) -> None:
    if claims.get("iss") != peer.issuer:  # byte for byte, whatever the library compared
        raise _refuse(Refusal.WRONG_ISSUER, f"the ID token's iss is not {peer.issuer!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise _refuse(Refusal.WRONG_AUDIENCE, f"the ID token's aud does not contain {client_id!r}")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise _refuse(Refusal.WRONG_AUDIENCE, f"the ID token has several audiences and azp {azp!r}")
    expires, issued = _number(claims, "exp"), _number(claims, "iat")
    if expires <= now - leeway:
        raise _refuse(Refusal.EXPIRED, "the ID token has expired")
    if issued > now + leeway:
        raise _refuse(Refusal.NOT_YET_VALID, "the ID token was issued in the future")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise _refuse(Refusal.NOT_YET_VALID, "the ID token is not valid yet (nbf)")
    if issued < now - max_age - leeway:
        raise _refuse(Refusal.EXPIRED, f"the ID token was issued more than {max_age}s ago")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
    ):
        raise _refuse(Refusal.WRONG_NONCE, "the ID token's nonce is not the one we sent")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise _refuse(Refusal.INVALID_CLAIM, "the ID token's sub is not a valid identifier")


def check_id_token(
    token: object,
    *,
    peer: Peer,
    client_id: str,
    nonce: str,
    now: int,
    table: AcrTable,
    requested_level: int = 0,
    jwks: Mapping[str, Any] | None = None,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
) -> dict[str, Any]:
    """Validate ``peer``'s ID token for us (``client_id``) and return its claims.

    ``jwks`` overrides the peer's inline ``jwks`` (use it for keys fetched from the resolved
    ``jwks_uri``). With ``requested_level`` above 0, ``acr`` must be present and map (through
    ``table``) at or above it.
    """
    if not nonce:
        raise ValueError("the nonce we sent is required")
    header, _ = _parse(token)
    alg = _check_header(header, peer)
    keys = jwks if jwks is not None else peer.jwks
    if keys is None:
        raise _refuse(Refusal.PEER_UNTRUSTED, f"no keys of {peer.issuer} to check the ID token")
    key = _select_key(keys, kid=header.get("kid"), alg=alg, issuer=peer.issuer)
    assert isinstance(token, str)  # _parse refused everything else
    claims = _decode(token, key=key, alg=alg, peer=peer, client_id=client_id, leeway=leeway)
    _check_claims(
        claims,
        peer=peer,
        client_id=client_id,
        nonce=nonce,
        now=now,
        leeway=leeway,
        max_age=max_age_seconds,
    )
    if requested_level > 0:
        acr = claims.get("acr")
        if not isinstance(acr, str) or not acr:
            raise _refuse(
                Refusal.MISSING_CLAIM, "a level was requested and the ID token has no acr"
            )
        require_level(acr, requested_level=requested_level, table=table, issuer=peer.issuer)
    return claims
