"""Failed-login counters: the atomic upsert, the window, blocks and clearing, on both backends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from idp.storage import login_failures
from idp.storage.database import Database
from idp.storage.models import LoginFailureCounter

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)
KEY = "account:12345672"


def _count(database: Database, *, key: str = KEY, now: datetime = NOW) -> int:
    with database.transaction() as session:
        return login_failures.count_failure(session, key=key, now=now, window=WINDOW)


def _row(database: Database, key: str = KEY) -> LoginFailureCounter | None:
    with database.transaction() as session:
        return session.get(LoginFailureCounter, key)


def test_each_failure_adds_one_and_returns_the_new_count(database: Database) -> None:
    assert [_count(database, now=NOW + timedelta(seconds=n)) for n in range(4)] == [1, 2, 3, 4]
    row = _row(database)
    assert row is not None
    assert row.failures == 4
    assert row.last_failure_at == NOW + timedelta(seconds=3)
    assert row.blocked_until is None
    assert _count(database, key="address:203.0.113.7") == 1  # keys are counted apart


def test_a_failure_after_a_quiet_window_restarts_the_count(database: Database) -> None:
    for _ in range(3):
        _count(database)
    assert _count(database, now=NOW + WINDOW) == 4  # exactly the window: still counted
    later = NOW + WINDOW + WINDOW + timedelta(microseconds=1)
    assert _count(database, now=later) == 1
    row = _row(database)
    assert row is not None
    assert (row.failures, row.last_failure_at) == (1, later)


def test_parallel_failures_on_one_key_are_all_counted(database: Database) -> None:
    """Twenty workers at once, each in its own transaction: the upsert loses none of them."""
    workers = 20
    start = threading.Barrier(workers)

    def fail_once(_: int) -> int:
        start.wait()
        with database.transaction() as session:
            return login_failures.count_failure(session, key=KEY, now=NOW, window=WINDOW)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(fail_once, range(workers)))

    row = _row(database)
    assert row is not None
    assert row.failures == workers
    assert sorted(counts) == list(range(1, workers + 1))  # each saw its own increment


def test_a_block_only_ever_grows(database: Database) -> None:
    _count(database)
    with database.transaction() as session:
        login_failures.block_until(session, key=KEY, until=NOW + timedelta(minutes=2))
        login_failures.block_until(session, key=KEY, until=NOW + timedelta(minutes=1))
    row = _row(database)
    assert row is not None
    assert row.blocked_until == NOW + timedelta(minutes=2)
    with database.transaction() as session:
        login_failures.block_until(session, key=KEY, until=NOW + timedelta(minutes=5))
    row = _row(database)
    assert row is not None
    assert row.blocked_until == NOW + timedelta(minutes=5)


def test_a_block_needs_a_counter(database: Database) -> None:
    with database.transaction() as session:
        login_failures.block_until(session, key=KEY, until=NOW + timedelta(minutes=2))
    assert _row(database) is None


def test_latest_block_is_the_latest_future_block_among_the_keys(database: Database) -> None:
    account, address, other = KEY, "address:203.0.113.7", "account:23456783"
    for key, minutes in ((account, 1), (address, 3), (other, 10)):
        _count(database, key=key)
        with database.transaction() as session:
            login_failures.block_until(session, key=key, until=NOW + timedelta(minutes=minutes))

    with database.transaction() as session:
        latest = login_failures.latest_block(session, keys=[account, address], now=NOW)
        assert latest == NOW + timedelta(minutes=3)
        assert latest is not None
        assert latest.tzinfo is not None
        after_address = NOW + timedelta(minutes=3)  # a block ends at its instant
        assert (
            login_failures.latest_block(session, keys=[account, address], now=after_address) is None
        )
        assert login_failures.latest_block(
            session, keys=[account], now=NOW + timedelta(seconds=59)
        ) == NOW + timedelta(minutes=1)
        assert login_failures.latest_block(session, keys=["account:unknown"], now=NOW) is None
        assert login_failures.latest_block(session, keys=[], now=NOW) is None


def test_clear_removes_only_its_key(database: Database) -> None:
    _count(database)
    _count(database, key="address:203.0.113.7")
    with database.transaction() as session:
        login_failures.clear(session, key=KEY)
        login_failures.clear(session, key="account:never-failed")
    assert _row(database) is None
    assert _row(database, "address:203.0.113.7") is not None
    assert _count(database) == 1
