"""OpenID Federation 1.0: Entity Statements, metadata policy and Trust Chains.

The protocol core here needs no web framework and no database: statements are verified from
explicit inputs (keys, ``now``), and statements come from a ``Fetcher``. Around it, this provider
as a federation Entity: ``entity`` (pure builders of the Entity Configuration and Subordinate
Statements, and signing with the federation keys), ``subordinates`` (a Trust Anchor's
Subordinates: checks and storage) and ``routes`` (the thin HTTP endpoints).
"""

from idp.federation.statements import (
    ENTITY_STATEMENT_TYP,
    Reason,
    TrustChainError,
    decode_unverified,
    sign_entity_statement,
    verify_entity_statement,
)
from idp.federation.trust_chain import (
    Fetcher,
    TrustChain,
    TrustChainCache,
    resolve_trust_chain,
    validate_trust_chain,
)

__all__ = [
    "ENTITY_STATEMENT_TYP",
    "Fetcher",
    "Reason",
    "TrustChain",
    "TrustChainCache",
    "TrustChainError",
    "decode_unverified",
    "resolve_trust_chain",
    "sign_entity_statement",
    "validate_trust_chain",
    "verify_entity_statement",
]
