"""Trust Chains of other entities, as this provider resolves and caches them at run time.

One :class:`FederationResolver` per process (on the ``ProviderContext``), shared by both sides
of cross-border login:

- as a relying party of a peer provider: the peer's ``openid_provider`` chain (its endpoints
  and keys come only from the resolved metadata) and the list of the federation's providers
  shown on the login page;
- as a provider that accepts automatic registration: a relying party's
  ``openid_relying_party`` chain (its redirect URIs and keys).

Chains are cached until they expire, and at most ``IDP_FEDERATION_CHAIN_CACHE_SECONDS`` (a
stated bound on staleness: a subordinate removed at the Trust Anchor stops being trusted
within that time). The peer list is cached for the same time. Fetches follow the provider's
outbound rules (``idp.federation.fetcher``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from idp.config import Settings
from idp.federation.fetcher import HttpFetcher
from idp.federation.statements import Reason, TrustChainError, verify_entity_statement
from idp.federation.trust_chain import (
    Fetcher,
    TrustChain,
    TrustChainCache,
    resolve_trust_chain,
)
from idp.oidc.outbound import OutboundRefused, fetch_json

PROVIDER = "openid_provider"
RELYING_PARTY = "openid_relying_party"


class FederationResolver:
    """Resolve, validate and cache Trust Chains to the configured Trust Anchors."""

    def __init__(
        self,
        settings: Settings,
        *,
        fetcher: Fetcher | None = None,
        list_fetcher: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._fetcher = fetcher or HttpFetcher(settings)
        self._list_fetcher = list_fetcher or (lambda url: fetch_json(url, settings))
        self._clock = clock
        self._chains = TrustChainCache(
            max_entries=512,
            max_age_seconds=settings.federation_chain_cache_seconds,
            clock=clock,
        )
        self._lock = threading.Lock()
        self._peer_ids: tuple[float, tuple[str, ...]] | None = None

    @property
    def trust_anchors(self) -> Mapping[str, Mapping[str, Any]]:
        return self._settings.federation_trust_anchors

    def chain(self, entity_id: str, entity_type: str = PROVIDER) -> TrustChain:
        """The valid Trust Chain of ``entity_id`` for ``entity_type``; raises
        :class:`TrustChainError` (never half-trust: no chain, no use)."""
        if entity_id == self._settings.issuer:
            raise TrustChainError(Reason.FETCH_FAILED, "this provider is not its own peer")
        return self._chains.get_or_resolve(
            entity_id,
            entity_type,
            lambda: resolve_trust_chain(
                entity_id,
                trust_anchors=self.trust_anchors,
                fetcher=self._fetcher,
                now=int(self._clock()),
                entity_type=entity_type,
            ),
        )

    def forget(self, entity_id: str | None = None) -> None:
        """Drop cached chains (one entity's, or all) and the cached peer list."""
        self._chains.invalidate(entity_id)
        with self._lock:
            self._peer_ids = None

    def provider_ids(self) -> tuple[str, ...]:
        """Entity Identifiers of the federation's other providers: ``IDP_FEDERATION_PEERS``
        when set, else the union of the Trust Anchors' lists (section 8.2,
        ``entity_type=openid_provider``). A Trust Anchor that cannot be reached contributes
        nothing (the login page then lists fewer countries; it never fails)."""
        configured = self._settings.federation_peers
        if configured:
            return tuple(entity for entity in configured if entity != self._settings.issuer)
        now = self._clock()
        with self._lock:
            if self._peer_ids is not None and now < self._peer_ids[0]:
                return self._peer_ids[1]
        found: list[str] = []
        for anchor in self.trust_anchors:
            for entity_id in self._listed_providers(anchor):
                if entity_id != self._settings.issuer and entity_id not in found:
                    found.append(entity_id)
        ids = tuple(found)
        with self._lock:
            self._peer_ids = (now + self._settings.federation_chain_cache_seconds, ids)
        return ids

    def _listed_providers(self, anchor: str) -> list[str]:
        try:
            anchor_chain = self._anchor_configuration(anchor)
            endpoint = anchor_chain.get("federation_list_endpoint")
            if not isinstance(endpoint, str):
                return []
            listed = self._list_fetcher(f"{endpoint}?entity_type={PROVIDER}")
        except (TrustChainError, OutboundRefused):
            return []
        if not isinstance(listed, list):
            return []
        return [item for item in listed if isinstance(item, str)]

    def _anchor_configuration(self, anchor: str) -> dict[str, Any]:
        """The Trust Anchor's ``federation_entity`` metadata from its Entity Configuration,
        checked against its pinned keys."""
        token = self._fetcher.fetch_entity_configuration(anchor)
        claims = verify_entity_statement(
            token,
            jwks=self.trust_anchors[anchor],
            now=int(self._clock()),
            expected_iss=anchor,
            expected_sub=anchor,
        )
        metadata = claims.get("metadata")
        entity = metadata.get("federation_entity") if isinstance(metadata, dict) else None
        return entity if isinstance(entity, dict) else {}
