"""The PostgreSQL pool without a ping per checkout: it recovers from a server restart (every
connection killed) on its own, pinging only connections that sat idle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from idp.storage.database import Database, create_database_engine
from tests.conftest import _create_pg_database, _drop_pg_database

pytestmark = pytest.mark.postgresql


@pytest.fixture
def url(postgresql_server: Any) -> Iterator[str]:
    name = _create_pg_database(postgresql_server)
    yield postgresql_server.url(name)
    _drop_pg_database(postgresql_server, name)


def kill_connections(url: str) -> int:
    """What a restart does to a pool: every server process of the database ends."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        admin.dispose()


def select_one(database: Database) -> int:
    with database.transaction() as session:
        return int(session.execute(text("SELECT 1")).scalar_one())


def open_two_connections(database: Database) -> None:
    """Two connections in the pool, both used once."""
    with database.engine.connect() as first, database.engine.connect() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))


def test_an_idle_connection_is_pinged_and_replaced(url: str) -> None:
    database = Database(create_database_engine(url, ping_after_idle_seconds=0))
    try:
        open_two_connections(database)
        assert kill_connections(url) == 2
        for _ in range(3):
            assert select_one(database) == 1
    finally:
        database.dispose()


def test_a_busy_pool_is_not_pinged_and_recovers_after_one_failure(url: str) -> None:
    database = Database(create_database_engine(url, ping_after_idle_seconds=3600))
    try:
        open_two_connections(database)
        assert kill_connections(url) == 2
        # no ping: the request that finds the dead connection fails (a pre-ping would have
        # spent a round trip on every checkout to avoid this) ...
        with pytest.raises(OperationalError):
            select_one(database)
        # ... and the disconnect invalidated the whole pool: the other dead connection is
        # replaced at checkout, so nothing else fails.
        for _ in range(3):
            assert select_one(database) == 1
    finally:
        database.dispose()


def test_connections_are_recycled(url: str) -> None:
    engine = create_database_engine(url)
    try:
        assert engine.pool._recycle == 30 * 60
        assert engine.pool._pre_ping is False
    finally:
        engine.dispose()
