"""Key operations shared by the CLI and the provider's start-up checks.

Creating the initial keys, the lifecycle commands (rotate with publish-ahead, generate,
activate, retire, revoke, prune) and the start-up check that every current key loads. The
rules of time (when a next key becomes current) are in ``lifecycle``; each operation first
settles them, then changes state, and refuses anything that would leave an algorithm without a
current key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.config import Settings
from idp.context_clock import utc_now
from idp.signing_keys.algorithms import (
    DEFAULT_ALGORITHMS,
    SigningAlgorithm,
    generate_private_key,
    key_matches_algorithm,
    public_jwk,
)
from idp.signing_keys.lifecycle import KeyView, effective_states, prunable, settled_changes
from idp.signing_keys.store import KeyFileStore, KeyStoreError
from idp.storage.models import KeyPurpose, KeyState, SigningKey


class KeyOperationError(RuntimeError):
    """A key operation was refused; one sentence for the operator."""


FEDERATION_ALGORITHMS = (SigningAlgorithm.ES256,)
"""Federation Entity Keys (OpenID Federation 1.0 section 3.1 ``jwks``): one current ES256 key
signs the Entity Configuration and Subordinate Statements."""

ALGORITHMS_BY_PURPOSE: dict[KeyPurpose, tuple[SigningAlgorithm, ...]] = {
    KeyPurpose.OIDC: DEFAULT_ALGORITHMS,
    KeyPurpose.FEDERATION: FEDERATION_ALGORITHMS,
}
"""The algorithms each purpose always has a current key for."""


def default_algorithms(purpose: KeyPurpose) -> tuple[SigningAlgorithm, ...]:
    try:
        return ALGORITHMS_BY_PURPOSE[purpose]
    except KeyError:
        raise KeyOperationError(f"Keys for {purpose.value} are not managed here.") from None


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


def _audit(
    session: Session,
    action: str,
    key: SigningKey,
    *,
    now: datetime,
    details: dict[str, str] | None = None,
) -> None:
    """Every change of a key's life goes into the audit log (kid and algorithm only)."""
    audit_log.append(
        session,
        event=AuditEvent.KEY_CHANGED,
        actor="operator",
        now=now,
        details={"action": action, "kid": key.kid, "alg": key.alg, "purpose": str(key.purpose)}
        | (details or {}),
    )


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
    _audit(session, "created", row, now=now, details={"state": str(state)})
    return row


def create_initial_keys(
    session: Session,
    *,
    store: KeyFileStore,
    now: datetime,
    purpose: KeyPurpose = KeyPurpose.OIDC,
) -> list[SigningKey]:
    """On an empty key store: current keys of the purpose's algorithms at once (RS256 and
    ES256 for OpenID Connect, ES256 for the federation)."""
    if list_keys(session, purpose=purpose):
        raise KeyOperationError("The key store already has keys.")
    return [
        create_key(
            session,
            store=store,
            algorithm=algorithm,
            state=KeyState.CURRENT,
            now=now,
            purpose=purpose,
        )
        for algorithm in default_algorithms(purpose)
    ]


def _rotate_command(purpose: KeyPurpose) -> str:
    suffix = "" if purpose is KeyPurpose.OIDC else f" --purpose {purpose.value}"
    return f"idp keys rotate{suffix}"


def check_current_keys(
    session: Session, *, store: KeyFileStore, purpose: KeyPurpose = KeyPurpose.OIDC
) -> list[SigningKey]:
    """Every default algorithm has a current key whose file loads and matches its record.

    Raises ``KeyOperationError`` naming the first problem; the provider refuses to start on it.
    """
    keys = list_keys(session, purpose=purpose)
    effective = effective_states([view_of(key) for key in keys], utc_now())
    current = [key for key in keys if effective[key.kid].state == KeyState.CURRENT]
    what = "signing" if purpose is KeyPurpose.OIDC else purpose.value
    for algorithm in default_algorithms(purpose):
        if not any(key.alg == algorithm.value for key in current):
            raise KeyOperationError(
                f"There is no current {algorithm.value} {what} key; "
                f"run `{_rotate_command(purpose)}`."
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


# Lifecycle operations (the `idp keys` commands) ------------------------------------------------


def view_of(key: SigningKey) -> KeyView:
    return KeyView(
        kid=key.kid,
        alg=key.alg,
        state=key.state,
        created_at=key.created_at,
        activate_after=key.activate_after,
        activated_at=key.activated_at,
        retired_at=key.retired_at,
    )


def settle(session: Session, *, now: datetime, purpose: KeyPurpose = KeyPurpose.OIDC) -> int:
    """Persist the states that time has already brought about (see ``lifecycle``)."""
    rows = {key.kid: key for key in list_keys(session, purpose=purpose)}
    changes = settled_changes([view_of(key) for key in rows.values()], now)
    for change in changes:
        row = rows[change.kid]
        row.state = change.state
        row.activated_at = change.activated_at
        row.retired_at = change.retired_at
    session.flush()
    return len(changes)


def _require_key(session: Session, kid: str, purpose: KeyPurpose | None = None) -> SigningKey:
    """The key ``kid``; with ``purpose``, only a key of that purpose (the others are not
    this command's to change)."""
    key = session.get(SigningKey, kid)
    if key is None or (purpose is not None and key.purpose != purpose):
        what = "key" if purpose is None or purpose is KeyPurpose.OIDC else f"{purpose} key"
        raise KeyOperationError(f"There is no {what} with kid {kid}.")
    return key


def _current_of(session: Session, alg: str, purpose: str) -> list[SigningKey]:
    return [
        key
        for key in list_keys(session, purpose=KeyPurpose(purpose))
        if key.alg == alg and key.state == KeyState.CURRENT
    ]


def rotate(
    session: Session,
    *,
    store: KeyFileStore,
    now: datetime,
    algorithms: Sequence[SigningAlgorithm] = (),
    publish_ahead: timedelta,
    if_older_than: timedelta | None = None,
    purpose: KeyPurpose = KeyPurpose.OIDC,
) -> list[SigningKey]:
    """Add a ``next`` key per algorithm that becomes current after ``publish_ahead``.

    On an empty key store it creates current RS256 and ES256 keys at once instead. With
    ``if_older_than``, an algorithm whose current key is younger is left alone (cron mode).
    An algorithm that already has a pending key is refused: one rotation at a time.
    """
    if not list_keys(session, purpose=purpose):
        return create_initial_keys(session, store=store, now=now, purpose=purpose)
    settle(session, now=now, purpose=purpose)
    # a wrong passphrase must not write new keys
    check_current_keys(session, store=store, purpose=purpose)
    keys = list_keys(session, purpose=purpose)
    targets = list(algorithms) or sorted(
        {SigningAlgorithm(key.alg) for key in keys if key.state == KeyState.CURRENT}
        | set(default_algorithms(purpose))
    )
    created: list[SigningKey] = []
    for algorithm in targets:
        pending = [k for k in keys if k.alg == algorithm.value and k.state == KeyState.NEXT]
        current = [k for k in keys if k.alg == algorithm.value and k.state == KeyState.CURRENT]
        if if_older_than is not None and current:
            activated = current[0].activated_at or current[0].created_at
            if now - activated < if_older_than:
                continue
        if pending:
            if if_older_than is not None:
                continue
            raise KeyOperationError(
                f"A {algorithm.value} key ({pending[0].kid}) is already waiting to become "
                "current; activate or revoke it before rotating again."
            )
        key = create_key(
            session,
            store=store,
            algorithm=algorithm,
            state=KeyState.NEXT,
            now=now,
            purpose=purpose,
        )
        key.activate_after = now + publish_ahead
        created.append(key)
    session.flush()
    settle(session, now=now, purpose=purpose)
    return created


def generate(
    session: Session,
    *,
    store: KeyFileStore,
    algorithm: SigningAlgorithm,
    now: datetime,
    purpose: KeyPurpose = KeyPurpose.OIDC,
) -> SigningKey:
    """Add a published ``next`` key that becomes current only with ``activate``."""
    settle(session, now=now, purpose=purpose)
    # a wrong passphrase must not write new keys
    check_current_keys(session, store=store, purpose=purpose)
    return create_key(
        session, store=store, algorithm=algorithm, state=KeyState.NEXT, now=now, purpose=purpose
    )


def activate(
    session: Session, *, kid: str, now: datetime, purpose: KeyPurpose | None = None
) -> SigningKey:
    """Make a ``next`` key current now; the previous current key of its algorithm retires."""
    key = _require_key(session, kid, purpose)
    settle(session, now=now, purpose=KeyPurpose(key.purpose))
    if key.state == KeyState.CURRENT:
        raise KeyOperationError(f"The key {kid} is already current.")
    if key.state != KeyState.NEXT:
        raise KeyOperationError(f"The key {kid} is {key.state}; only a next key can be activated.")
    for previous in _current_of(session, key.alg, key.purpose):
        previous.state = KeyState.RETIRED
        previous.retired_at = now
    key.state = KeyState.CURRENT
    key.activated_at = now
    key.activate_after = None
    session.flush()
    _audit(session, "activated", key, now=now)
    return key


def retire(
    session: Session, *, kid: str, now: datetime, purpose: KeyPurpose | None = None
) -> SigningKey:
    """Stop signing with a key but keep publishing it. A current key retires only when a
    ``next`` key of its algorithm can take over (which is then activated)."""
    key = _require_key(session, kid, purpose)
    settle(session, now=now, purpose=KeyPurpose(key.purpose))
    if key.state == KeyState.RETIRED:
        return key
    if key.state == KeyState.REVOKED:
        raise KeyOperationError(f"The key {kid} is revoked; it cannot be retired.")
    if key.state == KeyState.CURRENT:
        successors = [
            k
            for k in list_keys(session, purpose=KeyPurpose(key.purpose))
            if k.alg == key.alg and k.state == KeyState.NEXT
        ]
        if not successors:
            raise KeyOperationError(
                f"Retiring {kid} would leave no current {key.alg} key; run "
                f"`{_rotate_command(KeyPurpose(key.purpose))} --alg {key.alg}` first."
            )
        activate(session, kid=successors[0].kid, now=now)
        return key
    key.state = KeyState.RETIRED
    key.retired_at = now
    session.flush()
    _audit(session, "retired", key, now=now)
    return key


def revoke(
    session: Session, *, kid: str, reason: str, now: datetime, purpose: KeyPurpose | None = None
) -> SigningKey:
    """Emergency: remove a key from the JWKS at once; tokens it signed stop verifying."""
    if not reason.strip():
        raise KeyOperationError("Give the reason for the revocation with --reason.")
    key = _require_key(session, kid, purpose)
    settle(session, now=now, purpose=KeyPurpose(key.purpose))
    if key.state == KeyState.REVOKED:
        raise KeyOperationError(f"The key {kid} is already revoked.")
    if key.state == KeyState.CURRENT and len(_current_of(session, key.alg, key.purpose)) <= 1:
        raise KeyOperationError(
            f"Revoking {kid} would leave no current {key.alg} key; run "
            f"`{_rotate_command(KeyPurpose(key.purpose))} --alg {key.alg} --publish-ahead 0` "
            "first."
        )
    key.state = KeyState.REVOKED
    key.revoked_at = now
    key.revocation_reason = reason.strip()[:1000]
    session.flush()
    _audit(session, "revoked", key, now=now, details={"reason": key.revocation_reason})
    return key


def prune(
    session: Session,
    *,
    store: KeyFileStore,
    now: datetime,
    longest_token_lifetime: timedelta,
    purpose: KeyPurpose = KeyPurpose.OIDC,
) -> list[str]:
    """Delete retired keys whose tokens can no longer be valid, and the private key files of
    revoked keys (their rows stay, so that tokens they signed keep being refused by kid).
    For federation keys, ``longest_token_lifetime`` is the Entity Statement lifetime."""
    settle(session, now=now, purpose=purpose)
    removed: list[str] = []
    for key in list_keys(session, purpose=purpose):
        if prunable(view_of(key), now=now, longest_token_lifetime=longest_token_lifetime):
            store.remove(key.file_name)
            _audit(session, "pruned", key, now=now)
            session.delete(key)
            removed.append(key.kid)
        elif key.state == KeyState.REVOKED:
            store.remove(key.file_name)
    session.flush()
    return removed
