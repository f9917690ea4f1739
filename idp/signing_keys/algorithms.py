"""Key generation per JWS algorithm (RFC 7518 3.1, RFC 8037 for EdDSA) and JWK export.

The ``kid`` of every key is its RFC 7638 JWK thumbprint, so it is derived from the key itself
and two stores can never disagree about which key a ``kid`` names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc.jwk import ECKey, OKPKey, RSAKey

RSA_KEY_SIZE = 2048
"""NIST SP 800-57: 2048-bit RSA is acceptable through 2030; RS256 cost grows fast above it."""


class SigningAlgorithm(StrEnum):
    RS256 = "RS256"
    PS256 = "PS256"
    ES256 = "ES256"
    EDDSA = "EdDSA"


DEFAULT_ALGORITHMS = (SigningAlgorithm.RS256, SigningAlgorithm.ES256)
"""Always current: RS256 is the OIDC default for ID tokens, ES256 signs access tokens."""


def generate_private_key(algorithm: SigningAlgorithm) -> PrivateKeyTypes:
    match algorithm:
        case SigningAlgorithm.RS256 | SigningAlgorithm.PS256:
            return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
        case SigningAlgorithm.ES256:
            return ec.generate_private_key(ec.SECP256R1())
        case SigningAlgorithm.EDDSA:
            return ed25519.Ed25519PrivateKey.generate()


def key_matches_algorithm(key: PrivateKeyTypes, algorithm: SigningAlgorithm) -> bool:
    match algorithm:
        case SigningAlgorithm.RS256 | SigningAlgorithm.PS256:
            return isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048
        case SigningAlgorithm.ES256:
            return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(
                key.curve, ec.SECP256R1
            )
        case SigningAlgorithm.EDDSA:
            return isinstance(key, ed25519.Ed25519PrivateKey)


def public_jwk(key: PrivateKeyTypes, algorithm: SigningAlgorithm) -> dict[str, Any]:
    """The public JWK with ``kid`` (RFC 7638 thumbprint), ``alg`` and ``use: sig``."""
    jwk_class: type[RSAKey] | type[ECKey] | type[OKPKey]
    match algorithm:
        case SigningAlgorithm.RS256 | SigningAlgorithm.PS256:
            jwk_class = RSAKey
        case SigningAlgorithm.ES256:
            jwk_class = ECKey
        case SigningAlgorithm.EDDSA:
            jwk_class = OKPKey
    jwk = jwk_class.import_key(key.public_key())  # type: ignore[arg-type]
    members: dict[str, Any] = dict(jwk.as_dict(private=False))
    members.pop("kid", None)
    members.update({"kid": jwk.thumbprint(), "alg": algorithm.value, "use": "sig"})
    return members
