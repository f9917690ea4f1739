"""Failed-login counters, updated with one atomic upsert per key so that parallel attempts on
several workers are all counted (SQLite and PostgreSQL both support ``ON CONFLICT``).

Every statement here is a Core statement on the table: no counter row is ever loaded as an
object, so the ORM's identity-map synchronisation of an UPDATE or DELETE would be pure cost
(several times the statement's own, on every password login)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.storage.models import LoginFailureCounter

_counters = LoginFailureCounter.__table__


def latest_block(session: Session, *, keys: Iterable[str], now: datetime) -> datetime | None:
    """The latest ``blocked_until`` in the future among ``keys``, or None."""
    return session.scalar(
        select(func.max(LoginFailureCounter.blocked_until)).where(
            LoginFailureCounter.key.in_(list(keys)),
            LoginFailureCounter.blocked_until > now,
        )
    )


def count_failure(session: Session, *, key: str, now: datetime, window: timedelta) -> int:
    """Add one failure to ``key`` (restarting the count after ``window``); return the count."""
    table = _counters
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(key=key, failures=1, last_failure_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case(
                (table.c.last_failure_at < now - window, 1), else_=table.c.failures + 1
            ),
            "last_failure_at": now,
        },
    ).returning(table.c.failures)
    return int(session.execute(statement).scalar_one())


def block_until(session: Session, *, key: str, until: datetime) -> None:
    table = _counters
    session.execute(
        update(table)
        .where(table.c.key == key)
        .where((table.c.blocked_until.is_(None)) | (table.c.blocked_until < until))
        .values(blocked_until=until)
    )


def clear(session: Session, *, key: str) -> None:
    session.execute(delete(_counters).where(_counters.c.key == key))


def take_back(session: Session, *, key: str) -> None:
    """Remove one counted attempt from ``key`` (an attempt counted before it turned out not
    to be a failure); a counter back at zero with no block is removed."""
    session.execute(
        update(_counters)
        .where(_counters.c.key == key, _counters.c.failures > 0)
        .values(failures=_counters.c.failures - 1)
    )
    session.execute(
        delete(_counters).where(
            _counters.c.key == key,
            _counters.c.failures <= 0,
            _counters.c.blocked_until.is_(None),
        )
    )
