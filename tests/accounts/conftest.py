"""Fixtures of the accounts tests: the production hasher and a database on each backend; the
account pages also use the protocol fixtures (registered clients, the demo citizen)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.accounts.passwords import PasswordHasher
from idp.config import Settings
from idp.storage.database import Database, create_database_engine
from tests.oidc.conftest import citizen_id, register

__all__ = ["citizen_id", "register"]


@pytest.fixture
def hasher() -> PasswordHasher:
    """The hasher the provider builds from default settings (argon2id at the OWASP minimum)."""
    return PasswordHasher.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def sqlite_database(sqlite_database_url: str) -> Iterator[Database]:
    """A migrated SQLite database, for tests whose subject is not the backend."""
    db = Database(create_database_engine(sqlite_database_url))
    yield db
    db.dispose()
