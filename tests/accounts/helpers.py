"""Constants and helpers of the accounts tests.

Every function under test takes ``now``; the tests pass a fixed instant and move it explicitly,
so that no test depends on the wall clock or sleeps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from idp.accounts.passwords import PasswordCheck, PasswordHasher
from idp.accounts.registration import NewCitizen, create_citizen
from idp.storage.database import Database

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
USERNAME = "12345672"
"""The normalised form of the cédula 1.234.567-2 (its check digit is 2)."""
PASSWORD = "correct horse battery"
OWASP_MEMORY_KIB, OWASP_TIME_COST, OWASP_PARALLELISM = 19456, 2, 1
"""OWASP's argon2id minimum, the provider's default parameters."""

_PHC = re.compile(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")


def argon2id_parameters(stored_hash: str) -> tuple[int, int, int]:
    """(memory KiB, time cost, parallelism) of an argon2id PHC string; fails on anything else."""
    match = _PHC.fullmatch(stored_hash)
    assert match, f"not an argon2id v=19 PHC string: {stored_hash!r}"
    memory, time, parallelism = match.groups()
    return int(memory), int(time), int(parallelism)


def add_citizen(
    database: Database,
    hasher: PasswordHasher,
    *,
    document_number: str = "1.234.567-2",
    password: str = PASSWORD,
    verification_level: int = 0,
) -> int:
    """Create an account through the real registration path; returns its id."""
    with database.transaction() as session:
        citizen = create_citizen(
            session,
            request=NewCitizen(
                document_number=document_number,
                given_name="María",
                family_name="Rodríguez",
                verification_level=verification_level,
            ),
            password=password,
            hasher=hasher,
            now=NOW,
        )
        return citizen.id


def count_rows(database: Database, model: type) -> int:
    """Rows of a model's table, read in a transaction of its own (what is really committed)."""
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


class CountingHasher(PasswordHasher):
    """A real hasher (default parameters) that counts its checks, to prove argon2 really ran."""

    def __init__(self) -> None:
        super().__init__(
            memory_cost_kib=OWASP_MEMORY_KIB,
            time_cost=OWASP_TIME_COST,
            parallelism=OWASP_PARALLELISM,
        )
        self.verifications = 0
        self.dummy_verifications = 0

    def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        self.verifications += 1
        return super().verify(stored_hash, password)

    def verify_dummy(self, password: str) -> None:
        self.dummy_verifications += 1
        super().verify_dummy(password)
