"""An in-memory federation built from real keys and real signed Entity Statements.

The fake fetcher serves statements signed at fetch time from the entities' current claims, so
a test can change one claim (or replace one statement outright) and resolve again. Nothing in
the component under test is replaced: signatures, chains and policies are all real.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from idp.federation.statements import (
    Reason,
    TrustChainError,
    public_jwk,
    sign_entity_statement,
)

NOW = 1_800_000_000
LIFETIME = 86_400

TA = "https://ta.example.org"
INTERMEDIATE = "https://intermediate.example.org"
LEAF = "https://op.example.org"


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Entity:
    entity_id: str
    private_key: Any
    kid: str
    alg: str = "ES256"
    authority_hints: list[str] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_claims: dict[str, Any] = field(default_factory=dict)

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.private_key, kid=self.kid, alg=self.alg)]}

    @property
    def fetch_endpoint(self) -> str:
        return f"{self.entity_id}/fetch"


class Federation:
    """Entities, their subordinate statements and a fetcher that serves them."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now
        self.entities: dict[str, Entity] = {}
        self.subordinate_claims: dict[tuple[str, str], dict[str, Any]] = {}
        self.configuration_overrides: dict[str, str] = {}
        self.statement_overrides: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, ...]] = []

    def add(
        self,
        entity_id: str,
        *,
        authority_hints: list[str] | None = None,
        metadata: dict[str, dict[str, Any]] | None = None,
        authority: bool = False,
    ) -> Entity:
        entity = Entity(
            entity_id=entity_id,
            private_key=new_ec_key(),
            kid=f"{entity_id.split('//')[1].split('.')[0]}-key-1",
            authority_hints=list(authority_hints or []),
            metadata=copy.deepcopy(metadata or {}),
        )
        if authority:
            entity.metadata.setdefault("federation_entity", {})["federation_fetch_endpoint"] = (
                entity.fetch_endpoint
            )
        self.entities[entity_id] = entity
        return entity

    def subordinate(self, issuer: str, subject: str, **claims: Any) -> dict[str, Any]:
        """Register (or update) what ``issuer`` says about ``subject``."""
        self.subordinate_claims.setdefault((issuer, subject), {}).update(claims)
        return self.subordinate_claims[(issuer, subject)]

    def trust_anchors(self, *anchor_ids: str) -> dict[str, dict[str, Any]]:
        return {anchor: self.entities[anchor].jwks for anchor in anchor_ids or (TA,)}

    # --- claims and tokens ----------------------------------------------------------------

    def configuration_claims(self, entity_id: str) -> dict[str, Any]:
        entity = self.entities[entity_id]
        claims: dict[str, Any] = {
            "iss": entity_id,
            "sub": entity_id,
            "iat": self.now - 60,
            "exp": self.now + LIFETIME,
            "jwks": entity.jwks,
            "metadata": copy.deepcopy(entity.metadata),
        }
        if entity.authority_hints:
            claims["authority_hints"] = list(entity.authority_hints)
        claims.update(copy.deepcopy(entity.extra_claims))
        return claims

    def statement_claims(self, issuer: str, subject: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject,
            "iat": self.now - 60,
            "exp": self.now + LIFETIME,
            "jwks": self.entities[subject].jwks,
            "source_endpoint": self.entities[issuer].fetch_endpoint,
        }
        claims.update(copy.deepcopy(self.subordinate_claims[(issuer, subject)]))
        return claims

    def sign(self, claims: dict[str, Any], *, by: str) -> str:
        entity = self.entities[by]
        return sign_entity_statement(
            claims, private_key=entity.private_key, kid=entity.kid, alg=entity.alg
        )

    def configuration(self, entity_id: str) -> str:
        if entity_id in self.configuration_overrides:
            return self.configuration_overrides[entity_id]
        return self.sign(self.configuration_claims(entity_id), by=entity_id)

    def statement(self, issuer: str, subject: str) -> str:
        if (issuer, subject) in self.statement_overrides:
            return self.statement_overrides[(issuer, subject)]
        return self.sign(self.statement_claims(issuer, subject), by=issuer)

    # --- the Fetcher protocol -------------------------------------------------------------

    def fetch_entity_configuration(self, entity_id: str) -> str:
        self.calls.append(("configuration", entity_id))
        if entity_id not in self.entities:
            raise TrustChainError(Reason.FETCH_FAILED, f"{entity_id} is unreachable")
        return self.configuration(entity_id)

    def fetch_subordinate_statement(self, fetch_endpoint: str, issuer: str, subject: str) -> str:
        self.calls.append(("statement", issuer, subject))
        if fetch_endpoint != self.entities[issuer].fetch_endpoint:
            raise TrustChainError(Reason.FETCH_FAILED, "wrong fetch endpoint")
        if (issuer, subject) not in self.subordinate_claims and (
            issuer,
            subject,
        ) not in self.statement_overrides:
            raise TrustChainError(Reason.FETCH_FAILED, f"{issuer} knows nothing of {subject}")
        return self.statement(issuer, subject)


LEAF_OP_METADATA: dict[str, Any] = {
    "issuer": LEAF,
    "authorization_endpoint": f"{LEAF}/authorize",
    "token_endpoint": f"{LEAF}/token",
    "jwks_uri": f"{LEAF}/jwks",
    "response_types_supported": ["code"],
    "subject_types_supported": ["public", "pairwise"],
    "id_token_signing_alg_values_supported": ["ES256", "RS256", "HS256", "PS256"],
    "contacts": ["admin@op.example.org"],
    "organization_name": "OP (self-declared)",
}


def three_level_federation() -> Federation:
    """Trust Anchor -> Intermediate -> Leaf OP, with policies at both levels."""
    federation = Federation()
    federation.add(TA, authority=True, metadata={"federation_entity": {"organization_name": "TA"}})
    federation.add(INTERMEDIATE, authority_hints=[TA], authority=True)
    federation.add(
        LEAF,
        authority_hints=[INTERMEDIATE],
        metadata={
            "openid_provider": copy.deepcopy(LEAF_OP_METADATA),
            "federation_entity": {"organization_name": "OP"},
        },
    )
    federation.subordinate(
        TA,
        INTERMEDIATE,
        metadata_policy={
            "openid_provider": {
                "id_token_signing_alg_values_supported": {
                    "subset_of": ["ES256", "RS256", "PS256"],
                    "superset_of": ["ES256"],
                },
                "token_endpoint_auth_methods_supported": {
                    "default": ["private_key_jwt"],
                    "subset_of": ["private_key_jwt", "client_secret_basic"],
                },
                "contacts": {"add": ["federation@ta.example.org"]},
            }
        },
        constraints={"max_path_length": 1},
    )
    federation.subordinate(
        INTERMEDIATE,
        LEAF,
        metadata_policy={
            "openid_provider": {
                "id_token_signing_alg_values_supported": {"subset_of": ["ES256", "RS256"]},
                "subject_types_supported": {"essential": True},
            }
        },
        metadata={"openid_provider": {"organization_name": "OP (attested)"}},
    )
    return federation


EXPECTED_OP_METADATA: dict[str, Any] = {
    **LEAF_OP_METADATA,
    "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    "contacts": ["admin@op.example.org", "federation@ta.example.org"],
    "organization_name": "OP (attested)",
}
