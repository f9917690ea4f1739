"""The Trust Anchor's resolve endpoint (OpenID Federation 1.0 section 8.3).

``GET /federation/resolve?sub=S&trust_anchor=T[&entity_type=E...]``: the Trust Anchor
resolves and validates a Trust Chain from ``sub`` to itself, applies the metadata policies,
and answers a signed ``resolve-response+jwt`` whose ``metadata`` is the subject's resolved
metadata (only the requested Entity Types, when named) and whose ``trust_chain`` holds the
statements it used, so that a caller that trusts only the Trust Anchor's keys gets verified
metadata in one request.

Only this Trust Anchor is resolved to (``trust_anchor`` must be its own Entity Identifier;
its keys are its own, never fetched). Its own Entity Configuration and Subordinate Statements
come from memory and the database, the rest over HTTP with the outbound rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt
from sqlalchemy.orm import Session

from idp.context import ProviderContext
from idp.federation import entity, subordinates
from idp.federation.fetcher import HttpFetcher
from idp.federation.statements import Reason, TrustChainError
from idp.federation.trust_chain import TrustChain, resolve_trust_chain
from idp.signing_keys.keyring import KeyRing

RESOLVE_RESPONSE_TYP = "resolve-response+jwt"
RESOLVE_RESPONSE_MEDIA_TYPE = "application/resolve-response+jwt"
DEFAULT_ENTITY_TYPES = (
    entity.FEDERATION_ENTITY,
    entity.OPENID_PROVIDER,
    entity.OPENID_RELYING_PARTY,
)
"""Tried in this order to validate the chain when no ``entity_type`` is asked for."""


class ResolveError(Exception):
    """Section 8.9: ``error`` (``invalid_trust_anchor``, ``invalid_trust_chain``,
    ``not_found``) and its HTTP status."""

    def __init__(self, status_code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.description = description


class LocalFirstFetcher:
    """The Trust Anchor's own statements without a request to itself; others over HTTP."""

    def __init__(self, context: ProviderContext, db: Session, keyring: KeyRing) -> None:
        self._context = context
        self._db = db
        self._keyring = keyring
        self._http = HttpFetcher(context.settings)

    def _now(self) -> int:
        return int(self._context.clock().timestamp())

    def fetch_entity_configuration(self, entity_id: str) -> str:
        settings = self._context.settings
        if entity_id != settings.issuer:
            return self._http.fetch_entity_configuration(entity_id)
        return entity.signed_entity_configuration(
            settings,
            federation_keyring=self._keyring,
            oidc_keyring=self._context.keyring,
            now=self._now(),
        )

    def fetch_subordinate_statement(self, fetch_endpoint: str, issuer: str, subject: str) -> str:
        settings = self._context.settings
        if issuer != settings.issuer:
            return self._http.fetch_subordinate_statement(fetch_endpoint, issuer, subject)
        subordinate = subordinates.active_subordinate(self._db, subject)
        if subordinate is None:
            raise TrustChainError(Reason.FETCH_FAILED, f"{subject} is not a subordinate")
        claims = entity.subordinate_statement_claims(
            settings, subordinate=subordinate, now=self._now()
        )
        return entity.sign_statement(claims, keyring=self._keyring)


def _chain(
    fetcher: LocalFirstFetcher,
    *,
    subject: str,
    anchors: dict[str, Any],
    entity_types: Sequence[str],
    now: int,
) -> TrustChain:
    errors: list[TrustChainError] = []
    for entity_type in entity_types or DEFAULT_ENTITY_TYPES:
        try:
            return resolve_trust_chain(
                subject, trust_anchors=anchors, fetcher=fetcher, now=now, entity_type=entity_type
            )
        except TrustChainError as exc:
            if exc.reason is not Reason.MISSING_ENTITY_TYPE:
                raise
            errors.append(exc)
    raise errors[-1]


def resolve_response(
    context: ProviderContext,
    db: Session,
    keyring: KeyRing,
    *,
    subject: str,
    trust_anchor: str,
    entity_types: Sequence[str],
) -> str:
    """The signed resolve response, or :class:`ResolveError`."""
    settings = context.settings
    if trust_anchor != settings.issuer:
        raise ResolveError(404, "invalid_trust_anchor", "This entity resolves only to itself.")
    now = int(context.clock().timestamp())
    try:
        chain = _chain(
            LocalFirstFetcher(context, db, keyring),
            subject=subject,
            anchors={settings.issuer: keyring.jwks()},
            entity_types=entity_types,
            now=now,
        )
    except TrustChainError as exc:
        if exc.reason is Reason.MISSING_ENTITY_TYPE:
            raise ResolveError(404, "not_found", str(exc.message)) from None
        raise ResolveError(
            404, "invalid_trust_chain", f"No valid Trust Chain: {exc.reason.value}"
        ) from None
    metadata = {
        name: value
        for name, value in chain.all_metadata.items()
        if not entity_types or name in entity_types
    }
    claims = {
        "iss": settings.issuer,
        "sub": subject,
        "iat": now,
        "exp": min(chain.expires_at, now + settings.federation_statement_lifetime_seconds),
        "metadata": metadata,
        "trust_chain": list(chain.statements),
    }
    material = keyring.signing_material(entity.FEDERATION_SIGNING_ALG)
    # section 8.3.2: signed by the resolver, typed resolve-response+jwt (not an Entity
    # Statement: it must never be taken for one)
    return jwt.encode(
        claims,
        material.private_key,
        algorithm=material.alg,
        headers={"typ": RESOLVE_RESPONSE_TYP, "kid": material.kid},
    )
