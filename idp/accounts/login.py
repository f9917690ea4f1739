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
from idp.accounts.throttling import LoginThrottling, account_key, address_key
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
    """Check a username and password, applying and updating the throttling counters."""
    normalised = normalise_document_number(username)[:40]
    keys = (account_key(normalised), address_key(client_address))
    blocked_until = login_failures.latest_block(session, keys=keys, now=now)
    if blocked_until is not None:
        return LoginThrottled(retry_at=blocked_until)

    citizen = citizen_store.find_by_username(session, username=normalised) if normalised else None
    if citizen is None or citizen.password_hash is None:
        hasher.verify_dummy(password)
        return _record_failure(session, keys=keys, throttling=throttling, now=now)

    check = hasher.verify(citizen.password_hash, password)
    if not check.valid:
        return _record_failure(session, keys=keys, throttling=throttling, now=now)
    if citizen.status != CitizenStatus.ACTIVE:
        return AccountDisabled()
    if check.needs_rehash:
        citizen.password_hash = hasher.hash(password)
        citizen.updated_at = now
    login_failures.clear(session, key=keys[0])
    return LoginSucceeded(citizen=citizen)


def _record_failure(
    session: Session, *, keys: tuple[str, str], throttling: LoginThrottling, now: datetime
) -> InvalidCredentials | LoginThrottled:
    retry_at: datetime | None = None
    for key, policy in zip(keys, (throttling.account, throttling.address), strict=True):
        failures = login_failures.count_failure(session, key=key, now=now, window=policy.window)
        delay = policy.delay_after(failures)
        if delay:
            until = now + delay
            login_failures.block_until(session, key=key, until=until)
            retry_at = max(retry_at, until) if retry_at else until
    if retry_at is not None:
        return LoginThrottled(retry_at=retry_at)
    return InvalidCredentials()
