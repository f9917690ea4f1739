"""Key operations shared by the CLI and the provider's start-up checks.

This is the first slice of the key lifecycle: creating the initial current keys, listing them,
and checking at start that every current key can be loaded. Rotation of existing keys
(``next`` -> ``current`` -> ``retired``), revocation and pruning build on these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.signing_keys.algorithms import (
    DEFAULT_ALGORITHMS,
    SigningAlgorithm,
    generate_private_key,
    key_matches_algorithm,
    public_jwk,
)
from idp.signing_keys.store import KeyFileStore, KeyStoreError
from idp.storage.models import KeyPurpose, KeyState, SigningKey


class KeyOperationError(RuntimeError):
    """A key operation was refused; one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class CreatedKey:
    kid: str
    alg: str
    state: str


def key_store(settings: Settings) -> KeyFileStore:
    return KeyFileStore(settings.keys_dir, settings.key_passphrase_bytes())


def list_keys(session: Session, *, purpose: KeyPurpose | None = None) -> Sequence[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
    if purpose is not None:
        query = query.where(SigningKey.purpose == purpose)
    return session.scalars(query).all()


def create_key(
    session: Session,
    *,
    store: KeyFileStore,
    algorithm: SigningAlgorithm,
    state: KeyState,
    now: datetime,
    purpose: KeyPurpose = KeyPurpose.OIDC,
) -> SigningKey:
    """Generate a key, write it encrypted, and record it. The file is written first: a row
    never points at a missing file; a crash in between leaves an unused file, not a lost key."""
    private_key = generate_private_key(algorithm)
    jwk = public_jwk(private_key, algorithm)
    kid = str(jwk["kid"])
    if session.get(SigningKey, kid) is not None:
        raise KeyOperationError(f"A key with kid {kid} already exists.")
    file_name = f"{purpose.value}-{algorithm.value.lower()}-{kid}.pem"
    store.write(file_name, private_key)
    row = SigningKey(
        kid=kid,
        alg=algorithm.value,
        purpose=purpose,
        state=state,
        file_name=file_name,
        public_jwk=jwk,
        created_at=now,
        activated_at=now if state is KeyState.CURRENT else None,
    )
    session.add(row)
    session.flush()
    return row


def create_initial_keys(
    session: Session, *, store: KeyFileStore, now: datetime
) -> list[SigningKey]:
    """On an empty key store: current RS256 and ES256 keys at once."""
    if list_keys(session, purpose=KeyPurpose.OIDC):
        raise KeyOperationError("The key store already has keys.")
    return [
        create_key(session, store=store, algorithm=algorithm, state=KeyState.CURRENT, now=now)
        for algorithm in DEFAULT_ALGORITHMS
    ]


def check_current_keys(session: Session, *, store: KeyFileStore) -> list[SigningKey]:
    """Every default algorithm has a current key whose file loads and matches its record.

    Raises ``KeyOperationError`` naming the first problem; the provider refuses to start on it.
    """
    current = [
        key for key in list_keys(session, purpose=KeyPurpose.OIDC) if key.state == KeyState.CURRENT
    ]
    for algorithm in DEFAULT_ALGORITHMS:
        if not any(key.alg == algorithm.value for key in current):
            raise KeyOperationError(
                f"There is no current {algorithm.value} signing key; run `idp keys rotate`."
            )
    for key in current:
        try:
            private_key = store.read(key.file_name)
        except KeyStoreError as exc:
            raise KeyOperationError(str(exc)) from None
        algorithm = SigningAlgorithm(key.alg)
        if not key_matches_algorithm(private_key, algorithm) or (
            public_jwk(private_key, algorithm)["kid"] != key.kid
        ):
            raise KeyOperationError(
                f"The key file {key.file_name} does not hold the key {key.kid} it is recorded as."
            )
    return current
