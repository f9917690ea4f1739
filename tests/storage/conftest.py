"""Fixtures of the storage tests: a migrated database on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.storage.database import Database, create_database_engine


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database on the parametrised backend (SQLite and PostgreSQL)."""
    db = Database(create_database_engine(database_url))
    yield db
    db.dispose()
