"""The keys a running worker signs and verifies with, reloaded from the database at least every
``IDP_KEY_REFRESH_SECONDS`` so that all workers agree on key states within that bound without
a restart. Private keys are decrypted once per process and kept in memory by ``kid``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from jwt import PyJWK

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
    ) -> None:
        self._database = database
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._purpose = purpose
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._private_cache: dict[str, PrivateKeyTypes] = {}
        self._snapshot: _Snapshot | None = None

    @property
    def refresh_seconds(self) -> float:
        return self._refresh_seconds

    def _current_snapshot(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and self._monotonic() - snapshot.loaded_at < self._refresh_seconds:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or self._monotonic() - snapshot.loaded_at >= self._refresh_seconds:
                snapshot = self._load()
                self._snapshot = snapshot
            return snapshot

    def reload(self) -> None:
        """Reload now (tests, and after a CLI change in the same process)."""
        with self._lock:
            self._snapshot = self._load()

    def _load(self) -> _Snapshot:
        from sqlalchemy import select

        with self._database.transaction() as session:
            rows = session.scalars(
                select(SigningKey).where(SigningKey.purpose == self._purpose)
            ).all()
            records = [
                (row.kid, row.alg, row.state, dict(row.public_jwk), row.file_name, row.activated_at)
                for row in rows
            ]
        published: dict[str, PublishedKey] = {}
        revoked: set[str] = set()
        current: dict[str, SigningMaterial] = {}
        newest_activation: dict[str, Any] = {}
        for kid, alg, state, jwk, file_name, activated_at in records:
            if state == KeyState.REVOKED:
                revoked.add(kid)
                continue
            public_key = PyJWK.from_dict(jwk, algorithm=alg).key
            published[kid] = PublishedKey(
                kid=kid, alg=alg, state=state, jwk=jwk, public_key=public_key
            )
            if state == KeyState.CURRENT:
                previous = newest_activation.get(alg)
                if previous is not None and activated_at is not None and activated_at <= previous:
                    continue
                private_key = self._private_cache.get(kid)
                if private_key is None:
                    private_key = self._store.read(file_name)
                    self._private_cache[kid] = private_key
                current[alg] = SigningMaterial(kid=kid, alg=alg, private_key=private_key)
                newest_activation[alg] = activated_at
        for kid in list(self._private_cache):
            if kid not in published:
                del self._private_cache[kid]
        jwks = {"keys": [key.jwk for key in published.values()]}
        return _Snapshot(
            loaded_at=self._monotonic(),
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
