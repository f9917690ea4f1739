"""Client registrations as the token, introspection and revocation endpoints read them, cached
per worker for at most ``IDP_CLIENT_CACHE_SECONDS``.

Client authentication (RFC 6749 2.3, OIDC Core 9) looks the client up on every request; a
registration changes only when an operator runs ``idp clients``. Each worker therefore keeps an
immutable snapshot of what those endpoints need (the stored SHA-256 hash of the secret, never a
secret), read from the database at most once per bound:

- A change (``idp clients update``, ``rotate-secret``, ``delete``) reaches every worker within
  ``IDP_CLIENT_CACHE_SECONDS`` (30 s by default; 0 turns the cache off). Until then a worker
  that cached the client may still accept its old secret, method, grant types or scopes.
- A cached entry never refuses what the database would accept: a credential that does not
  match the snapshot is checked again against a fresh read (so a rotated secret works at once).
- Unknown client ids are not cached (no growth from guessed ids); at most ``max_entries``
  clients are kept, the oldest read dropped first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.storage import clients as client_store
from idp.storage.models import OAuthClient

DEFAULT_MAX_ENTRIES = 1024


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """What the token, introspection and revocation endpoints read of a client: a detached,
    immutable copy, safe to share between threads and requests."""

    client_id: str
    token_endpoint_auth_method: str
    secret_hash: str | None
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    subject_type: str
    sector_identifier: str | None
    id_token_signed_response_alg: str

    @classmethod
    def of(cls, client: OAuthClient) -> ClientRegistration:
        return cls(
            client_id=client.client_id,
            token_endpoint_auth_method=client.token_endpoint_auth_method,
            secret_hash=client.secret_hash,
            grant_types=tuple(client.grant_types),
            scopes=tuple(client.scopes),
            subject_type=client.subject_type,
            sector_identifier=client.sector_identifier,
            id_token_signed_response_alg=client.id_token_signed_response_alg,
        )


ClientView = OAuthClient | ClientRegistration
"""A registration to read from: the database row, or the endpoints' snapshot of it."""


@dataclass(frozen=True, slots=True)
class _Entry:
    registration: ClientRegistration
    expires_at: float


class ClientCache:
    """Registrations by client_id, each valid for ``ttl_seconds`` after it was read."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def cached(self, client_id: str) -> ClientRegistration | None:
        """The registration if it was read less than ``ttl_seconds`` ago; no database."""
        entry = self._entries.get(client_id)
        if entry is None:
            return None
        if self._monotonic() >= entry.expires_at:
            with self._lock:
                if self._entries.get(client_id) is entry:
                    del self._entries[client_id]
            return None
        return entry.registration

    def read(self, session: Session, client_id: str) -> ClientRegistration | None:
        """Read the client from the database, and remember it (or forget it if it is gone)."""
        client = client_store.get_client(session, client_id=client_id)
        if client is None:
            self.forget(client_id)
            return None
        registration = ClientRegistration.of(client)
        if self.ttl_seconds > 0:
            entry = _Entry(registration, self._monotonic() + self.ttl_seconds)
            with self._lock:
                self._entries.pop(client_id, None)
                while len(self._entries) >= self.max_entries:
                    del self._entries[next(iter(self._entries))]
                self._entries[client_id] = entry
        return registration

    def get(self, session: Session, client_id: str) -> ClientRegistration | None:
        """The cached registration, else a fresh read."""
        return self.cached(client_id) or self.read(session, client_id)

    def forget(self, client_id: str) -> None:
        with self._lock:
            self._entries.pop(client_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
