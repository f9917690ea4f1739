"""Password login: throttling, constant-time-ish account lookup, rehash on parameter change.

Outcomes are values, not exceptions, so that the page can show the right message and the
failure counters are still committed with the response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from idp.accounts.documents import normalise_document_number
from idp.accounts.passwords import PasswordHasher
from idp.accounts.throttling import LoginThrottling, ThrottlePolicy, account_key, address_key
from idp.storage import citizens as citizen_store
from idp.storage import login_failures
from idp.storage.models import Citizen, CitizenStatus


@dataclass(frozen=True, slots=True)
class LoginSucceeded:
    citizen: Citizen


@dataclass(frozen=True, slots=True)
class InvalidCredentials:
    """Wrong username or password; deliberately the same for both."""


@dataclass(frozen=True, slots=True)
class LoginThrottled:
    retry_at: datetime


@dataclass(frozen=True, slots=True)
class AccountDisabled:
    """The password was right but the account is disabled."""


LoginOutcome = LoginSucceeded | InvalidCredentials | LoginThrottled | AccountDisabled


def authenticate_with_password(
    session: Session,
    *,
    username: str,
    password: str,
    client_address: str,
    hasher: PasswordHasher,
    throttling: LoginThrottling,
    now: datetime,
) -> LoginOutcome:
    """Check a username and password, applying and updating the throttling counters.

    The attempt is counted *before* the password is compared: the counter's upsert locks its
    row until this transaction ends, so parallel guesses on several workers queue there, and
    each then sees the block that the attempts before it set; such a guess is refused without
    a comparison (and not counted, like any attempt during a block). A success takes its own
    attempt back from the address counter and clears the account's.
    """
    normalised = normalise_document_number(username)[:40]
    keys = (account_key(normalised), address_key(client_address))
    policies = (throttling.account, throttling.address)
    blocked_until = login_failures.latest_block(session, keys=keys, now=now)
    if blocked_until is not None:
        return LoginThrottled(retry_at=blocked_until)

    attempts = [
        login_failures.count_failure(session, key=key, now=now, window=policy.window)
        for key, policy in zip(keys, policies, strict=True)
    ]
    # The upserts waited for any parallel attempt on the same keys to commit: a block it set
    # is visible now (a new statement sees every committed row, SQLite and PostgreSQL alike).
    blocked_until = login_failures.latest_block(session, keys=keys, now=now)
    if blocked_until is not None:
        for key in keys:
            login_failures.take_back(session, key=key)
        return LoginThrottled(retry_at=blocked_until)

    citizen = citizen_store.find_by_username(session, username=normalised) if normalised else None
    if citizen is None or citizen.password_hash is None:
        hasher.verify_dummy(password)
        return _failed(session, keys, policies, attempts, now=now)

    check = hasher.verify(citizen.password_hash, password)
    if not check.valid:
        return _failed(session, keys, policies, attempts, now=now)
    if citizen.status != CitizenStatus.ACTIVE:
        for key in keys:  # the right password: not a guess to count
            login_failures.take_back(session, key=key)
        return AccountDisabled()
    if check.needs_rehash:
        citizen.password_hash = hasher.hash(password)
        citizen.updated_at = now
    login_failures.clear(session, key=keys[0])
    login_failures.take_back(session, key=keys[1])
    return LoginSucceeded(citizen=citizen)


def _block(
    session: Session,
    keys: tuple[str, str],
    policies: tuple[ThrottlePolicy, ThrottlePolicy],
    failures: list[int],
    *,
    now: datetime,
) -> datetime | None:
    """Block every key whose failure count calls for it; the latest end of a block, or None."""
    retry_at: datetime | None = None
    for key, policy, count in zip(keys, policies, failures, strict=True):
        delay = policy.delay_after(count)
        if delay:
            until = now + delay
            login_failures.block_until(session, key=key, until=until)
            retry_at = max(retry_at, until) if retry_at else until
    return retry_at


def _failed(
    session: Session,
    keys: tuple[str, str],
    policies: tuple[ThrottlePolicy, ThrottlePolicy],
    attempts: list[int],
    *,
    now: datetime,
) -> InvalidCredentials | LoginThrottled:
    """The attempt was a failure (it is counted already): block when it reached a threshold."""
    retry_at = _block(session, keys, policies, attempts, now=now)
    if retry_at is not None:
        return LoginThrottled(retry_at=retry_at)
    return InvalidCredentials()
