"""A small real federation for cross-border tests: a Trust Anchor, the Brazilian peer provider
(B) and the Uruguayan provider (A, the relying party), with real EC P-256 keys, real signed
Entity Statements and real ID tokens. Nothing under test is replaced."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from idp.federation.crossborder import (
    Peer,
    SigningKey,
    default_acr_table,
    peer_from_trust_chain,
)
from idp.federation.statements import public_jwk
from idp.federation.trust_chain import TrustChain, resolve_trust_chain
from tests.federation.builder import NOW, TA, Federation

A = "https://id.example.gub.uy"
B = "https://id.example.gov.br"
A_CALLBACK = f"{A}/federation/callback"
SECRET = b"person identifier secret of A, 32+ bytes long"
TABLE = default_acr_table()

B_OIDC_KEY = ec.generate_private_key(ec.SECP256R1())
B_KID = "br-oidc-1"
A_RP_KEY = ec.generate_private_key(ec.SECP256R1())
A_KID = "uy-rp-1"
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def b_provider_metadata(**overrides: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "issuer": B,
        "authorization_endpoint": f"{B}/authorize",
        "token_endpoint": f"{B}/token",
        "jwks": {"keys": [public_jwk(B_OIDC_KEY, kid=B_KID, alg="ES256")]},
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "request_object_signing_alg_values_supported": ["ES256", "RS256"],
        "acr_values_supported": [
            "urn:govbr:nivel:bronze",
            "urn:govbr:nivel:prata",
            "urn:govbr:nivel:ouro",
        ],
    }
    for name, value in overrides.items():
        if value is None:
            metadata.pop(name, None)
        else:
            metadata[name] = value
    return metadata


def federation(*, b_metadata: dict[str, Any] | None = None) -> Federation:
    """TA with two leaf providers, B (BR) and A (UY)."""
    fed = Federation()
    fed.add(TA, authority=True, metadata={"federation_entity": {"organization_name": "Region"}})
    fed.add(
        B,
        authority_hints=[TA],
        metadata={
            "openid_provider": b_metadata if b_metadata is not None else b_provider_metadata(),
            "federation_entity": {"organization_name": "gov.br", "country": "BR"},
        },
    )
    fed.add(
        A,
        authority_hints=[TA],
        metadata={
            "openid_provider": {
                **b_provider_metadata(),
                "issuer": A,
                "authorization_endpoint": f"{A}/authorize",
                "token_endpoint": f"{A}/token",
            },
            "federation_entity": {"organization_name": "ID Uruguay", "country": "UY"},
        },
    )
    fed.subordinate(TA, B)
    fed.subordinate(TA, A)
    return fed


def chain_of(fed: Federation, entity_id: str = B) -> TrustChain:
    return resolve_trust_chain(entity_id, trust_anchors=fed.trust_anchors(TA), fetcher=fed, now=NOW)


def peer_b(**metadata_overrides: Any) -> Peer:
    return peer_from_trust_chain(
        chain_of(federation(b_metadata=b_provider_metadata(**metadata_overrides)))
    )


PEER_B = peer_b()
A_SIGNING_KEY = SigningKey(private_key=A_RP_KEY, kid=A_KID, alg="ES256")


def a_rp_jwks() -> dict[str, Any]:
    return {"keys": [public_jwk(A_RP_KEY, kid=A_KID, alg="ES256")]}


def id_token_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": B,
        "sub": "br-citizen-123",
        "aud": A,
        "iat": NOW - 5,
        "exp": NOW + 300,
        "auth_time": NOW - 20,
        "nonce": "n-0S6_WzA2Mj",
        "acr": "urn:govbr:nivel:prata",
        "amr": ["pwd", "otp", "mfa", "urn:govbr:amr:app"],
        "given_name": "Maria",
        "family_name": "da Silva",
        "birthdate": "1990-04-01",
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def mint(
    claims: dict[str, Any] | None = None,
    *,
    key: Any = B_OIDC_KEY,
    alg: str = "ES256",
    headers: dict[str, Any] | None = None,
) -> str:
    header: dict[str, Any] = {"kid": B_KID, "typ": "JWT"}
    header.update(headers or {})
    header = {name: value for name, value in header.items() if value is not None}
    payload = json.dumps(claims if claims is not None else id_token_claims()).encode()
    return jwt.PyJWS().encode(payload, key, algorithm=alg, headers=header)


def unsigned(claims: dict[str, Any] | None = None, **header: Any) -> str:
    """A token with ``alg: none`` (which PyJWT will not produce with a key)."""

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = claims if claims is not None else id_token_claims()
    return f"{segment({'alg': 'none', **header})}.{segment(claims)}."
