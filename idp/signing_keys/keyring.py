"""The keys a running worker signs and verifies with, reloaded from the database at least every
``IDP_KEY_REFRESH_SECONDS`` so that all workers agree on key states within that bound without
a restart, and exactly when a pending key's publish-ahead time ends (states are derived with
``lifecycle.effective_states``, so the promotion needs no command and no write). Private keys
are decrypted once per process and kept in memory by ``kid``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from jwt import PyJWK

from idp.context_clock import utc_now
from idp.signing_keys.lifecycle import effective_states, next_activation
from idp.signing_keys.service import view_of
from idp.signing_keys.store import KeyFileStore
from idp.storage.database import Database
from idp.storage.models import KeyPurpose, KeyState, SigningKey


class NoSigningKey(RuntimeError):
    """No current key for an algorithm: the provider cannot issue such tokens."""


@dataclass(frozen=True, slots=True)
class PublishedKey:
    kid: str
    alg: str
    state: str
    jwk: dict[str, Any]
    public_key: PublicKeyTypes


@dataclass(frozen=True, slots=True)
class SigningMaterial:
    kid: str
    alg: str
    private_key: PrivateKeyTypes


@dataclass(frozen=True, slots=True)
class _Snapshot:
    loaded_at: float
    valid_until: float
    published: dict[str, PublishedKey]
    revoked: frozenset[str]
    current: dict[str, SigningMaterial]
    jwks: dict[str, Any]


class KeyRing:
    """Thread-safe view of one purpose's keys, refreshed from the database on a timer."""

    def __init__(
        self,
        *,
        database: Database,
        store: KeyFileStore,
        refresh_seconds: float,
        purpose: KeyPurpose = KeyPurpose.OIDC,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._purpose = purpose
        self._monotonic = monotonic
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._private_cache: dict[str, PrivateKeyTypes] = {}
        self._snapshot: _Snapshot | None = None

    @property
    def refresh_seconds(self) -> float:
        return self._refresh_seconds

    def _stale(self, snapshot: _Snapshot | None) -> bool:
        return snapshot is None or self._monotonic() >= snapshot.valid_until

    def _current_snapshot(self) -> _Snapshot:
        snapshot = self._snapshot
        if not self._stale(snapshot):
            return snapshot  # type: ignore[return-value]
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or self._stale(snapshot):
                snapshot = self._load()
                self._snapshot = snapshot
            return snapshot

    def reload(self) -> None:
        """Reload now (tests, and after a CLI change in the same process)."""
        with self._lock:
            self._snapshot = self._load()

    def _load(self) -> _Snapshot:
        from sqlalchemy import select

        now = self.wall_clock()
        with self._database.transaction() as session:
            rows = session.scalars(
                select(SigningKey).where(SigningKey.purpose == self._purpose)
            ).all()
            views = [view_of(row) for row in rows]
            records = [(row.kid, row.alg, dict(row.public_jwk), row.file_name) for row in rows]
        effective = effective_states(views, now)
        published: dict[str, PublishedKey] = {}
        revoked: set[str] = set()
        current: dict[str, SigningMaterial] = {}
        for kid, alg, jwk, file_name in records:
            state = effective[kid].state
            if state == KeyState.REVOKED:
                revoked.add(kid)
                continue
            public_key = PyJWK.from_dict(jwk, algorithm=alg).key
            published[kid] = PublishedKey(
                kid=kid, alg=alg, state=state, jwk=jwk, public_key=public_key
            )
            if state == KeyState.CURRENT:
                private_key = self._private_cache.get(kid)
                if private_key is None:
                    private_key = self._store.read(file_name)
                    self._private_cache[kid] = private_key
                current[alg] = SigningMaterial(kid=kid, alg=alg, private_key=private_key)
        for kid in list(self._private_cache):
            if kid not in published:
                del self._private_cache[kid]
        jwks = {"keys": [key.jwk for key in published.values()]}
        loaded_at = self._monotonic()
        valid_for = float(self._refresh_seconds)
        activation = next_activation(views, now)
        if activation is not None:
            valid_for = min(valid_for, max(0.0, (activation - now).total_seconds()))
        return _Snapshot(
            loaded_at=loaded_at,
            valid_until=loaded_at + valid_for,
            published=published,
            revoked=frozenset(revoked),
            current=current,
            jwks=jwks,
        )

    def signing_material(self, alg: str) -> SigningMaterial:
        material = self._current_snapshot().current.get(alg)
        if material is None:
            raise NoSigningKey(f"There is no current {alg} signing key.")
        return material

    def can_sign(self, alg: str) -> bool:
        return alg in self._current_snapshot().current

    def published_key(self, kid: str) -> PublishedKey | None:
        """A key that may verify tokens: published (next, current or retired), not revoked."""
        return self._current_snapshot().published.get(kid)

    def is_revoked(self, kid: str) -> bool:
        return kid in self._current_snapshot().revoked

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 5): next, current and retired keys; never revoked."""
        return self._current_snapshot().jwks

    def signing_algorithms(self) -> list[str]:
        return sorted(self._current_snapshot().current)
