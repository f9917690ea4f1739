"""The discovery document (OpenID Connect Discovery 1.0 section 4, RFC 8414 section 3) and the
JWKS (RFC 7517 section 5) as serialised bytes, so that the most frequently fetched documents
cost no JSON encoding and no database access per request.

Both depend only on the settings and the key ring. The bytes are rebuilt when the key ring's
JWK Set or signing algorithms change; whether they did is checked at most every
``RECHECK_SECONDS`` (0.25 s), because asking the key ring may reload it from the database, which
must not happen on the event loop: ``fresh`` never blocks, ``refresh`` may (run it in a
thread). A key change therefore reaches these documents at most ``RECHECK_SECONDS`` after it
reaches the key ring (within ``IDP_KEY_REFRESH_SECONDS``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from idp.config import Settings
from idp.oidc.discovery import provider_metadata
from idp.signing_keys.keyring import KeyRing

RECHECK_SECONDS = 0.25


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Documents:
    discovery: bytes
    jwks: bytes
    checked_until: float
    signing_algs: tuple[str, ...]
    jwks_source: dict[str, Any]
    """The key ring's JWK Set these bytes were made from (compared by identity)."""


class PublishedDocuments:
    """The current ``Documents`` of one application."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        *,
        recheck_seconds: float = RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._keyring = keyring
        self._recheck_seconds = recheck_seconds
        self._monotonic = monotonic
        self._documents: Documents | None = None

    def fresh(self) -> Documents | None:
        """The documents if they were checked against the key ring less than
        ``RECHECK_SECONDS`` ago, else None; never touches the database."""
        documents = self._documents
        if documents is None or self._monotonic() >= documents.checked_until:
            return None
        return documents

    def refresh(self) -> Documents:
        """Check against the key ring (which may reload from the database) and rebuild what
        changed. Blocking: call it from a thread, not from the event loop."""
        jwks = self._keyring.jwks()
        signing_algs = tuple(self._keyring.signing_algorithms())
        previous = self._documents
        discovery = (
            previous.discovery
            if previous is not None and previous.signing_algs == signing_algs
            else _encode(provider_metadata(self._settings, signing_algs=list(signing_algs)))
        )
        jwks_bytes = (
            previous.jwks
            if previous is not None and previous.jwks_source is jwks
            else _encode(jwks)
        )
        documents = Documents(
            discovery=discovery,
            jwks=jwks_bytes,
            checked_until=self._monotonic() + self._recheck_seconds,
            signing_algs=signing_algs,
            jwks_source=jwks,
        )
        self._documents = documents
        return documents
