"""Password login with the failure counters in the database, on SQLite and PostgreSQL.

Each attempt runs in a transaction of its own, as a request does, and ``now`` is moved by hand.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from idp.accounts.login import (
    AccountDisabled,
    InvalidCredentials,
    LoginOutcome,
    LoginSucceeded,
    LoginThrottled,
    authenticate_with_password,
)
from idp.accounts.passwords import PasswordHasher
from idp.accounts.registration import set_status
from idp.accounts.throttling import LoginThrottling, ThrottlePolicy, account_key, address_key
from idp.storage.database import Database
from idp.storage.models import Citizen, CitizenStatus, LoginFailureCounter
from tests.accounts.helpers import NOW, PASSWORD, USERNAME, CountingHasher, add_citizen

ADDRESS = "203.0.113.7"
BASE_DELAY = timedelta(seconds=30)
WINDOW = timedelta(hours=1)


def _policy(threshold: int) -> ThrottlePolicy:
    return ThrottlePolicy(
        threshold=threshold, base_delay=BASE_DELAY, max_delay=timedelta(minutes=15), window=WINDOW
    )


DEFAULTS = LoginThrottling(account=_policy(5), address=_policy(100))
"""What ``LoginThrottling.from_settings`` builds from the default settings."""


def attempt(
    database: Database,
    hasher: PasswordHasher,
    *,
    password: str,
    now: datetime,
    username: str = USERNAME,
    address: str = ADDRESS,
    throttling: LoginThrottling = DEFAULTS,
) -> LoginOutcome:
    """One login attempt in its own transaction, committed like a request's."""
    with database.transaction() as session:
        return authenticate_with_password(
            session,
            username=username,
            password=password,
            client_address=address,
            hasher=hasher,
            throttling=throttling,
            now=now,
        )


def failures_of(database: Database, key: str) -> int | None:
    """The committed failure count under ``key``; None when there is no counter."""
    with database.transaction() as session:
        row = session.get(LoginFailureCounter, key)
        return None if row is None else row.failures


def test_the_right_password_succeeds_however_the_number_is_typed(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(database, hasher)
    for typed in ("1.234.567-2", " 1234567-2 ", "12345672"):
        outcome = attempt(database, hasher, username=typed, password=PASSWORD, now=NOW)
        assert isinstance(outcome, LoginSucceeded)
        assert outcome.citizen.id == citizen_id
        assert outcome.citizen.username == USERNAME


def test_a_wrong_password_is_refused_and_counted_on_both_keys(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    assert attempt(database, hasher, password="wrong", now=NOW) == InvalidCredentials()
    assert failures_of(database, account_key(USERNAME)) == 1
    assert failures_of(database, address_key(ADDRESS)) == 1


def test_five_failures_block_the_account_and_the_right_password_is_not_even_checked(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    for second in range(4):
        outcome = attempt(
            database, hasher, password=f"wrong {second}", now=NOW + timedelta(seconds=second)
        )
        assert outcome == InvalidCredentials()

    fifth_at = NOW + timedelta(seconds=4)
    blocked = attempt(database, hasher, password="wrong 4", now=fifth_at)
    assert blocked == LoginThrottled(retry_at=fifth_at + BASE_DELAY)
    assert failures_of(database, account_key(USERNAME)) == 5

    counting = CountingHasher()
    just_before = fifth_at + BASE_DELAY - timedelta(microseconds=1)
    for when in (fifth_at, fifth_at + timedelta(seconds=10), just_before):
        outcome = attempt(database, counting, password=PASSWORD, now=when)
        assert outcome == LoginThrottled(retry_at=fifth_at + BASE_DELAY)
    assert counting.verifications == 0
    assert failures_of(database, account_key(USERNAME)) == 5  # blocked attempts are not counted


def test_after_the_block_the_right_password_succeeds_and_clears_the_account_counter(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    for _ in range(5):
        last = attempt(database, hasher, password="wrong", now=NOW)
    assert last == LoginThrottled(retry_at=NOW + BASE_DELAY)

    outcome = attempt(database, hasher, password=PASSWORD, now=NOW + BASE_DELAY)
    assert isinstance(outcome, LoginSucceeded)
    assert failures_of(database, account_key(USERNAME)) is None
    assert failures_of(database, address_key(ADDRESS)) == 5

    # A cleared account starts again from zero: four failures do not block it.
    later = NOW + BASE_DELAY + timedelta(seconds=1)
    for _ in range(4):
        assert attempt(database, hasher, password="wrong", now=later) == InvalidCredentials()


def test_each_failure_past_the_threshold_doubles_the_wait(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    for _ in range(5):
        attempt(database, hasher, password="wrong", now=NOW)
    sixth_at = NOW + BASE_DELAY
    assert attempt(database, hasher, password="wrong", now=sixth_at) == LoginThrottled(
        retry_at=sixth_at + 2 * BASE_DELAY
    )
    seventh_at = sixth_at + 2 * BASE_DELAY
    assert attempt(database, hasher, password="wrong", now=seventh_at) == LoginThrottled(
        retry_at=seventh_at + 4 * BASE_DELAY
    )


def test_failures_older_than_the_window_restart_the_count(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    for _ in range(4):
        assert attempt(database, hasher, password="wrong", now=NOW) == InvalidCredentials()

    later = NOW + WINDOW + timedelta(seconds=1)
    assert attempt(database, hasher, password="wrong", now=later) == InvalidCredentials()
    assert failures_of(database, account_key(USERNAME)) == 1
    for _ in range(3):
        assert attempt(database, hasher, password="wrong", now=later) == InvalidCredentials()
    assert attempt(database, hasher, password="wrong", now=later) == LoginThrottled(
        retry_at=later + BASE_DELAY
    )


def test_an_unknown_username_is_throttled_exactly_like_an_account(
    database: Database, hasher: PasswordHasher
) -> None:
    """Otherwise the throttling itself would tell which document numbers have accounts."""
    add_citizen(database, hasher)
    outcomes = {
        username: [
            attempt(database, hasher, username=username, password="wrong", now=NOW)
            for _ in range(5)
        ]
        for username in (USERNAME, "9.876.543-2")
    }
    assert outcomes[USERNAME] == outcomes["9.876.543-2"]
    assert outcomes[USERNAME][-1] == LoginThrottled(retry_at=NOW + BASE_DELAY)


def test_the_address_limit_is_independent_of_the_account_limit(
    database: Database, hasher: PasswordHasher
) -> None:
    throttling = LoginThrottling(account=_policy(3), address=_policy(8))
    add_citizen(database, hasher)

    # Eight different usernames from one address: no account reaches 3, the address reaches 8.
    outcomes = [
        attempt(
            database,
            hasher,
            username=f"PASSPORT{index}",
            password="wrong",
            now=NOW,
            throttling=throttling,
        )
        for index in range(8)
    ]
    assert outcomes[:7] == [InvalidCredentials()] * 7
    assert outcomes[7] == LoginThrottled(retry_at=NOW + BASE_DELAY)
    assert failures_of(database, account_key("PASSPORT0")) == 1

    # The whole address waits, even with another account's right password ...
    assert attempt(
        database, hasher, password=PASSWORD, now=NOW, throttling=throttling
    ) == LoginThrottled(retry_at=NOW + BASE_DELAY)
    # ... but that account is not blocked from elsewhere.
    elsewhere = attempt(
        database, hasher, password=PASSWORD, now=NOW, address="198.51.100.9", throttling=throttling
    )
    assert isinstance(elsewhere, LoginSucceeded)


def test_the_account_limit_applies_across_addresses(
    database: Database, hasher: PasswordHasher
) -> None:
    throttling = LoginThrottling(account=_policy(3), address=_policy(8))
    add_citizen(database, hasher)
    outcomes = [
        attempt(
            database,
            hasher,
            password="wrong",
            now=NOW,
            address=f"198.51.100.{index}",
            throttling=throttling,
        )
        for index in range(3)
    ]
    assert outcomes == [
        InvalidCredentials(),
        InvalidCredentials(),
        LoginThrottled(retry_at=NOW + BASE_DELAY),
    ]
    for index in range(3):
        assert failures_of(database, address_key(f"198.51.100.{index}")) == 1

    fresh_address = attempt(
        database, hasher, password=PASSWORD, now=NOW, address="192.0.2.1", throttling=throttling
    )
    assert fresh_address == LoginThrottled(retry_at=NOW + BASE_DELAY)


def test_the_default_address_limit_is_much_higher_than_the_account_limit(
    database: Database, hasher: PasswordHasher
) -> None:
    """Ten failures from one address on two accounts block each account, not the address."""
    add_citizen(database, hasher)
    add_citizen(database, hasher, document_number="2.345.678-3")
    for username in (USERNAME, "23456783"):
        for _ in range(5):
            attempt(database, hasher, username=username, password="wrong", now=NOW)
    assert failures_of(database, address_key(ADDRESS)) == 10

    add_citizen(database, hasher, document_number="4.567.890-5")
    third = attempt(database, hasher, username="45678905", password=PASSWORD, now=NOW)
    assert isinstance(third, LoginSucceeded)


def test_a_disabled_account_is_told_apart_only_with_the_right_password(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(database, hasher)
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert set_status(citizen, status=CitizenStatus.DISABLED, now=NOW)

    assert attempt(database, hasher, password=PASSWORD, now=NOW) == AccountDisabled()
    assert failures_of(database, account_key(USERNAME)) is None
    assert attempt(database, hasher, password="wrong", now=NOW) == InvalidCredentials()
    assert failures_of(database, account_key(USERNAME)) == 1


def test_success_resets_the_account_counter_but_not_the_address_counter(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    for _ in range(2):
        attempt(database, hasher, password="wrong", now=NOW)
    assert failures_of(database, account_key(USERNAME)) == 2

    assert isinstance(attempt(database, hasher, password=PASSWORD, now=NOW), LoginSucceeded)
    assert failures_of(database, account_key(USERNAME)) is None
    assert failures_of(database, address_key(ADDRESS)) == 2


def test_parallel_wrong_passwords_are_all_counted(
    database: Database, hasher: PasswordHasher
) -> None:
    """Requests on several workers at once: every failure lands in the counter."""
    threads = 8
    throttling = LoginThrottling(account=_policy(1000), address=_policy(1000))
    add_citizen(database, hasher)
    start = threading.Barrier(threads)

    def one_attempt(index: int) -> LoginOutcome:
        start.wait()
        return attempt(database, hasher, password=f"wrong {index}", now=NOW, throttling=throttling)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(one_attempt, range(threads)))
    assert outcomes == [InvalidCredentials()] * threads
    assert failures_of(database, account_key(USERNAME)) == threads
    assert failures_of(database, address_key(ADDRESS)) == threads


def test_a_parallel_burst_gets_no_more_comparisons_than_the_threshold(
    database: Database,
) -> None:
    """Each attempt is counted before its password is compared, so guesses released together
    queue on the counter and those after the threshold-th see its block: at most ``threshold``
    argon2 comparisons, whatever the interleaving (ASVS 2.2.1)."""
    threads = 8
    threshold = 3
    throttling = LoginThrottling(account=_policy(threshold), address=_policy(1000))
    hasher = CountingHasher()
    add_citizen(database, hasher)
    start = threading.Barrier(threads)

    def one_attempt(index: int) -> LoginOutcome:
        start.wait()
        return attempt(database, hasher, password=f"wrong {index}", now=NOW, throttling=throttling)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(one_attempt, range(threads)))
    assert hasher.verifications <= threshold
    assert outcomes.count(InvalidCredentials()) == threshold - 1
    refused = [outcome for outcome in outcomes if outcome != InvalidCredentials()]
    assert all(isinstance(outcome, LoginThrottled) for outcome in refused)
