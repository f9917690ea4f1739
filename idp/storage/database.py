"""Engine and session factory.

One ``Database`` per application (or CLI invocation), built from settings: no module-level
engine. SQLite gets the pragmas that make it behave (foreign keys, WAL, a busy timeout so that
two processes can share the file); PostgreSQL gets a sized pool whose connections are checked
cheaply (see ``create_database_engine``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from idp.config import Settings

PING_AFTER_IDLE_SECONDS = 10.0
"""A pooled connection unused for this long is pinged before it is handed out."""
RECYCLE_SECONDS = 30 * 60
"""Connections are replaced after this long, well before usual server or firewall idle cuts."""
_CHECKED_IN_AT = "idp_checked_in_at"


def create_database_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
) -> Engine:
    """An engine for ``url``; creates the folder of a SQLite file if it is missing.

    A PostgreSQL connection is not pinged at every checkout (``pool_pre_ping`` costs a round
    trip per request): only one that sat in the pool for ``ping_after_idle_seconds`` is, and a
    dead one is replaced before the request sees it. A connection that dies while in use (a
    server restart under load) fails that request; SQLAlchemy then recognises the disconnect
    and invalidates the whole pool, so every other connection of the old server is replaced at
    its next checkout and the worker recovers without a restart.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=RECYCLE_SECONDS
    )
    _ping_idle_connections(engine, ping_after_idle_seconds)
    return engine


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling, limited to connections left idle."""

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_CHECKED_IN_AT, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (or a new one).
            raise exc.DisconnectionError(str(error)) from error

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The engine and a session factory whose sessions own one transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            create_database_engine(
                settings.effective_database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
        )

    def session(self) -> Session:
        """A new session; the caller commits or rolls back and closes it (``transaction``
        does both)."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
