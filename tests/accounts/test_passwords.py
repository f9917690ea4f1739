"""argon2id hashing: parameters, verification, rehash on login, the dummy check and the policy."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type

from idp.accounts.login import InvalidCredentials, LoginSucceeded, authenticate_with_password
from idp.accounts.passwords import (
    PasswordCheck,
    PasswordHasher,
    PasswordPolicyError,
    check_password_policy,
)
from idp.accounts.throttling import LoginThrottling
from idp.config import Settings
from idp.storage import citizens as citizen_store
from idp.storage.database import Database
from idp.storage.models import Citizen
from tests.accounts.helpers import (
    NOW,
    OWASP_MEMORY_KIB,
    OWASP_PARALLELISM,
    OWASP_TIME_COST,
    PASSWORD,
    USERNAME,
    CountingHasher,
    add_citizen,
    argon2id_parameters,
)


def _weak_hash(password: str) -> str:
    """A hash as an older, weaker configuration would have stored it (m=8 MiB, t=1)."""
    return Argon2Hasher(memory_cost=8192, time_cost=1, parallelism=1, type=Type.ID).hash(password)


def _default_throttling() -> LoginThrottling:
    return LoginThrottling.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


# --- hashing and verification ----------------------------------------------------------------


def test_new_hashes_are_argon2id_with_at_least_the_owasp_parameters(
    hasher: PasswordHasher,
) -> None:
    memory, time, parallelism = argon2id_parameters(hasher.hash(PASSWORD))
    assert memory >= OWASP_MEMORY_KIB
    assert time >= OWASP_TIME_COST
    assert parallelism >= OWASP_PARALLELISM


def test_hashes_are_salted_and_never_contain_the_password(hasher: PasswordHasher) -> None:
    first, second = hasher.hash(PASSWORD), hasher.hash(PASSWORD)
    assert first != second
    assert PASSWORD not in first


def test_settings_refuse_parameters_below_the_owasp_minimum() -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(_env_file=None, password_memory_cost_kib=8192)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        Settings(_env_file=None, password_time_cost=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("concurrency", [0, -1, 65])
def test_settings_refuse_a_hashing_concurrency_outside_1_to_64(concurrency: int) -> None:
    with pytest.raises(pydantic.ValidationError, match="password_hash_concurrency"):
        Settings(_env_file=None, password_hash_concurrency=concurrency)  # type: ignore[call-arg]


def test_the_right_password_verifies_and_a_wrong_one_does_not(hasher: PasswordHasher) -> None:
    stored = hasher.hash(PASSWORD)
    assert hasher.verify(stored, PASSWORD) == PasswordCheck(valid=True, needs_rehash=False)
    for wrong in ("correct horse batter", "Correct horse battery", PASSWORD + " ", ""):
        assert hasher.verify(stored, wrong) == PasswordCheck(valid=False)


def test_a_hash_with_weaker_parameters_verifies_and_asks_for_a_rehash(
    hasher: PasswordHasher,
) -> None:
    weak = _weak_hash(PASSWORD)
    assert argon2id_parameters(weak) == (8192, 1, 1)
    assert hasher.verify(weak, PASSWORD) == PasswordCheck(valid=True, needs_rehash=True)
    assert hasher.verify(weak, "wrong password") == PasswordCheck(valid=False)


def test_an_argon2i_hash_verifies_and_asks_for_a_rehash(hasher: PasswordHasher) -> None:
    argon2i = Argon2Hasher(
        memory_cost=OWASP_MEMORY_KIB, time_cost=OWASP_TIME_COST, parallelism=1, type=Type.I
    ).hash(PASSWORD)
    assert hasher.verify(argon2i, PASSWORD) == PasswordCheck(valid=True, needs_rehash=True)


@pytest.mark.parametrize(
    "stored_hash",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=abc",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "plain text password",
    ],
    ids=["empty", "word", "broken-parameters", "no-digest", "bcrypt", "plain-text"],
)
def test_a_garbage_stored_hash_is_invalid_without_an_exception(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    assert hasher.verify(stored_hash, PASSWORD) == PasswordCheck(valid=False)
    assert hasher.verify(stored_hash, stored_hash) == PasswordCheck(valid=False)


def test_a_truncated_real_hash_is_invalid_without_an_exception(hasher: PasswordHasher) -> None:
    stored = hasher.hash(PASSWORD)
    assert hasher.verify(stored[:-10], PASSWORD) == PasswordCheck(valid=False)


def test_a_password_that_is_not_valid_unicode_is_invalid_without_an_exception(
    hasher: PasswordHasher,
) -> None:
    """A lone surrogate (undecodable input read with surrogateescape) has no UTF-8 form."""
    stored = hasher.hash(PASSWORD)
    assert hasher.verify(stored, "password\udcff") == PasswordCheck(valid=False)
    hasher.verify_dummy("password\udcff")  # must not raise either


def test_the_dummy_hash_costs_what_a_real_hash_costs(hasher: PasswordHasher) -> None:
    """Same parameters, hence the same time: the dummy check is useless otherwise."""
    real = argon2id_parameters(hasher.hash(PASSWORD))
    assert argon2id_parameters(hasher._dummy_hash) == real


# --- login upgrades weak hashes; unknown accounts still cost a verification --------------------


def test_login_upgrades_a_weak_stored_hash_to_the_current_parameters(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(database, hasher)
    with database.transaction() as session:
        citizen = citizen_store.get_by_id(session, citizen_id=citizen_id)
        assert citizen is not None
        citizen.password_hash = _weak_hash(PASSWORD)

    with database.transaction() as session:
        outcome = authenticate_with_password(
            session,
            username=USERNAME,
            password=PASSWORD,
            client_address="203.0.113.7",
            hasher=hasher,
            throttling=_default_throttling(),
            now=NOW,
        )
        assert isinstance(outcome, LoginSucceeded)

    with database.transaction() as session:
        stored = session.get(Citizen, citizen_id)
        assert stored is not None
        assert argon2id_parameters(stored.password_hash or "") == (
            OWASP_MEMORY_KIB,
            OWASP_TIME_COST,
            OWASP_PARALLELISM,
        )
        assert stored.updated_at == NOW
        assert hasher.verify(stored.password_hash or "", PASSWORD) == PasswordCheck(
            valid=True, needs_rehash=False
        )


def test_login_does_not_rewrite_a_current_hash(database: Database, hasher: PasswordHasher) -> None:
    citizen_id = add_citizen(database, hasher)
    with database.transaction() as session:
        before = session.get(Citizen, citizen_id)
        assert before is not None
        original_hash = before.password_hash

    with database.transaction() as session:
        outcome = authenticate_with_password(
            session,
            username=USERNAME,
            password=PASSWORD,
            client_address="203.0.113.7",
            hasher=hasher,
            throttling=_default_throttling(),
            now=NOW,
        )
        assert isinstance(outcome, LoginSucceeded)

    with database.transaction() as session:
        after = session.get(Citizen, citizen_id)
        assert after is not None
        assert after.password_hash == original_hash


def test_an_unknown_username_costs_a_verification_and_looks_like_a_wrong_password(
    database: Database, hasher: PasswordHasher
) -> None:
    add_citizen(database, hasher)
    counting = CountingHasher()
    throttling = _default_throttling()

    with database.transaction() as session:
        unknown = authenticate_with_password(
            session,
            username="9.876.543-2",
            password=PASSWORD,
            client_address="203.0.113.7",
            hasher=counting,
            throttling=throttling,
            now=NOW,
        )
    assert counting.dummy_verifications == 1
    assert counting.verifications == 1  # the dummy check is a real argon2 verification

    with database.transaction() as session:
        wrong = authenticate_with_password(
            session,
            username=USERNAME,
            password="wrong password",
            client_address="198.51.100.9",
            hasher=counting,
            throttling=throttling,
            now=NOW,
        )
    assert counting.dummy_verifications == 1
    assert counting.verifications == 2

    assert unknown == wrong == InvalidCredentials()


def test_an_account_without_a_password_costs_a_dummy_verification(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(database, hasher)
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        citizen.password_hash = None

    counting = CountingHasher()
    with database.transaction() as session:
        outcome = authenticate_with_password(
            session,
            username=USERNAME,
            password=PASSWORD,
            client_address="203.0.113.7",
            hasher=counting,
            throttling=_default_throttling(),
            now=NOW,
        )
    assert outcome == InvalidCredentials()
    assert counting.dummy_verifications == 1
    assert counting.verifications == 1


# --- the policy for new passwords -------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "sentence"),
    [
        ("", "The password must not be empty."),
        ("a" * 7, "The password must have at least 8 characters."),
        ("a" * 1025, "The password must have at most 1024 characters."),
        ("password\udcff", "The password must be valid Unicode text."),
    ],
    ids=["empty", "7-characters", "1025-characters", "lone-surrogate"],
)
def test_the_policy_refuses_with_one_clear_sentence(password: str, sentence: str) -> None:
    with pytest.raises(PasswordPolicyError) as refused:
        check_password_policy(password)
    assert str(refused.value) == sentence


@pytest.mark.parametrize(
    "password",
    ["a" * 8, "a" * 1024, "ñandú con tilde", "        "],
    ids=["8-characters", "1024-characters", "non-ascii", "spaces-count"],
)
def test_the_policy_accepts(password: str) -> None:
    check_password_policy(password)


# --- memory: parallel logins share a bounded number of hashing threads -----------------------

PARALLEL_LOGINS_SCRIPT = """
import sys
from concurrent.futures import ThreadPoolExecutor
from idp.accounts.passwords import PasswordHasher

def resident_mib():
    status = open("/proc/self/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024

hasher = PasswordHasher(
    memory_cost_kib=19456, time_cost=2, parallelism=1, concurrency=int(sys.argv[1])
)
stored = hasher.hash("correct horse battery staple")
before = resident_mib()
with ThreadPoolExecutor(16) as request_threads:  # like a worker's request thread pool
    checks = list(request_threads.map(
        lambda _: hasher.verify(stored, "correct horse battery staple").valid, range(32)
    ))
assert all(checks)
print(resident_mib() - before)
"""


def test_parallel_logins_hold_the_memory_of_the_hashing_threads_only() -> None:
    """16 request threads checking passwords at once: the argon2id blocks (19 MiB each) are
    held by the hashing threads alone, not by every request thread that asked. Run on the
    request threads themselves, this grew a process by 150 MiB or more, for good."""
    grown = int(
        subprocess.run(
            [sys.executable, "-c", PARALLEL_LOGINS_SCRIPT, "1"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    )
    assert grown < 2 * 19 + 8, f"the process grew by {grown} MiB"
