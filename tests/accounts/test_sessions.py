"""Browser sessions in the database, on SQLite and PostgreSQL: hashing, timeouts and rotation."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from idp.accounts.sessions import (
    LAST_SEEN_RESOLUTION,
    SessionTimeouts,
    authenticate_session,
    end_session,
    hash_session_token,
    load_session,
    start_session,
)
from idp.assurance.methods import AuthMethod
from idp.config import Settings
from idp.storage import browser_sessions as store
from idp.storage import citizens as citizen_store
from idp.storage.database import Database
from idp.storage.models import BrowserSession
from tests.accounts.helpers import NOW, count_rows

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TIMEOUTS = SessionTimeouts(idle=IDLE, absolute=ABSOLUTE)


def _start(database: Database, *, now: datetime = NOW) -> tuple[str, int]:
    with database.transaction() as session:
        token, row = start_session(session, timeouts=TIMEOUTS, now=now)
        return token, row.id


def _load(
    database: Database,
    token: str | None,
    *,
    now: datetime,
    timeouts: SessionTimeouts = TIMEOUTS,
) -> BrowserSession | None:
    """``load_session`` in a request-like transaction; the row comes back detached."""
    with database.transaction() as session:
        return load_session(session, token=token, timeouts=timeouts, now=now)


def _row(database: Database, row_id: int) -> BrowserSession | None:
    with database.transaction() as session:
        return session.get(BrowserSession, row_id)


def _add_citizen(database: Database) -> int:
    """A bare account row: these tests are about sessions, not about passwords."""
    with database.transaction() as session:
        citizen = citizen_store.add_citizen(
            session,
            username="12345672",
            document_type="ci",
            document_country="UY",
            document_number="12345672",
            given_name="María",
            family_name="Rodríguez",
            birthdate=None,
            email=None,
            phone_number=None,
            preferred_language=None,
            password_hash="not a real hash",
            now=NOW,
        )
        return citizen.id


def test_the_timeouts_come_from_settings() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, session_idle_timeout_seconds=60, session_absolute_timeout_seconds=3600
    )
    assert SessionTimeouts.from_settings(settings) == SessionTimeouts(
        idle=timedelta(minutes=1), absolute=timedelta(hours=1)
    )


def test_only_the_sha256_of_the_token_is_stored(database: Database) -> None:
    token, row_id = _start(database)
    assert len(token) >= 43  # 256 random bits, URL-safe base64

    with database.transaction() as session:
        stored = session.execute(
            select(BrowserSession.__table__).where(BrowserSession.__table__.c.id == row_id)
        ).one()
    values = stored._asdict()
    assert values["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert values["token_hash"] == hash_session_token(token)
    for column, value in values.items():
        assert token not in str(value), f"the cookie value is stored in {column}"
    assert values["csrf_token"]
    assert values["csrf_token"] != token
    assert values["citizen_id"] is None
    assert values["authenticated_at"] is None
    assert values["created_at"] == values["last_seen_at"] == NOW
    assert values["expires_at"] == NOW + IDLE


def test_every_session_gets_its_own_token_and_csrf_token(database: Database) -> None:
    first_token, first_id = _start(database)
    second_token, second_id = _start(database)
    assert first_token != second_token
    first, second = _row(database, first_id), _row(database, second_id)
    assert first is not None
    assert second is not None
    assert first.csrf_token != second.csrf_token


def test_load_session_finds_the_session_of_its_cookie(database: Database) -> None:
    token, row_id = _start(database)
    loaded = _load(database, token, now=NOW + timedelta(seconds=1))
    assert loaded is not None
    assert loaded.id == row_id
    assert _load(database, token + "x", now=NOW) is None
    assert _load(database, hash_session_token(token), now=NOW) is None  # the hash is no cookie


@pytest.mark.parametrize("token", [None, ""], ids=["none", "empty"])
def test_no_cookie_is_no_session(database: Database, token: str | None) -> None:
    _start(database)
    assert _load(database, token, now=NOW) is None


def test_a_token_longer_than_200_characters_is_refused_before_any_lookup(
    database: Database,
) -> None:
    """Even if its hash were stored: the length check comes first."""
    long_token = "x" * 201
    with database.transaction() as session:
        store.add_session(
            session,
            token_hash=hash_session_token(long_token),
            csrf_token="csrf",
            now=NOW,
            expires_at=NOW + IDLE,
        )
    assert _load(database, long_token, now=NOW) is None

    at_the_limit = "y" * 200
    with database.transaction() as session:
        store.add_session(
            session,
            token_hash=hash_session_token(at_the_limit),
            csrf_token="csrf",
            now=NOW,
            expires_at=NOW + IDLE,
        )
    assert _load(database, at_the_limit, now=NOW) is not None


def test_an_idle_session_ends_and_its_row_is_deleted(database: Database) -> None:
    token, row_id = _start(database)
    assert _load(database, token, now=NOW + IDLE - timedelta(microseconds=1)) is not None

    other_token, other_id = _start(database)
    assert _load(database, other_token, now=NOW + IDLE) is None
    assert _row(database, other_id) is None
    assert _load(database, other_token, now=NOW) is None  # gone, not merely refused
    assert _row(database, row_id) is not None  # the other session is untouched


def test_activity_keeps_a_session_alive_past_the_idle_timeout(database: Database) -> None:
    token, row_id = _start(database)
    for minutes in (20, 40, 60, 80):
        assert _load(database, token, now=NOW + timedelta(minutes=minutes)) is not None
    row = _row(database, row_id)
    assert row is not None
    assert row.last_seen_at == NOW + timedelta(minutes=80)
    assert row.expires_at == NOW + timedelta(minutes=80) + IDLE


def test_last_seen_is_refreshed_at_most_once_a_minute(database: Database) -> None:
    assert timedelta(seconds=60) == LAST_SEEN_RESOLUTION
    token, row_id = _start(database)

    assert _load(database, token, now=NOW + timedelta(seconds=59)) is not None
    row = _row(database, row_id)
    assert row is not None
    assert (row.last_seen_at, row.expires_at) == (NOW, NOW + IDLE)

    seen = NOW + LAST_SEEN_RESOLUTION
    assert _load(database, token, now=seen) is not None
    row = _row(database, row_id)
    assert row is not None
    assert (row.last_seen_at, row.expires_at) == (seen, seen + IDLE)


def test_the_absolute_timeout_ends_even_an_active_session(database: Database) -> None:
    timeouts = SessionTimeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=1))
    with database.transaction() as session:
        token, row = start_session(session, timeouts=timeouts, now=NOW)
        row_id = row.id

    for minutes in (20, 40):
        assert _load(database, token, now=NOW + timedelta(minutes=minutes), timeouts=timeouts)
    row_after = _row(database, row_id)
    assert row_after is not None
    assert row_after.expires_at == NOW + timedelta(hours=1)  # not 40 min + 30 min idle

    assert _load(database, token, now=NOW + timedelta(minutes=59), timeouts=timeouts) is not None
    assert _load(database, token, now=NOW + timedelta(hours=1), timeouts=timeouts) is None
    assert _row(database, row_id) is None


def test_authentication_rotates_the_token_and_the_csrf_token(database: Database) -> None:
    citizen_id = _add_citizen(database)
    old_token, row_id = _start(database)
    old_row = _row(database, row_id)
    assert old_row is not None
    login_at = NOW + timedelta(minutes=5)

    with database.transaction() as session:
        row = load_session(session, token=old_token, timeouts=TIMEOUTS, now=login_at)
        assert row is not None
        citizen = citizen_store.get_by_id(session, citizen_id=citizen_id)
        assert citizen is not None
        new_token = authenticate_session(
            session,
            row=row,
            citizen=citizen,
            method=AuthMethod.PASSWORD,
            timeouts=TIMEOUTS,
            now=login_at,
        )

    assert new_token != old_token
    assert _load(database, old_token, now=login_at) is None
    loaded = _load(database, new_token, now=login_at)
    assert loaded is not None
    assert loaded.id == row_id
    assert loaded.token_hash == hash_session_token(new_token)
    assert loaded.csrf_token != old_row.csrf_token
    assert loaded.citizen_id == citizen_id
    assert loaded.authenticated_at == login_at
    assert loaded.amr == ["pwd"]
    assert loaded.expires_at == login_at + IDLE


def test_the_absolute_timeout_counts_from_the_login(database: Database) -> None:
    """A session opened long before the login does not cut the signed-in time short."""
    timeouts = SessionTimeouts(idle=timedelta(hours=2), absolute=timedelta(hours=3))
    citizen_id = _add_citizen(database)
    with database.transaction() as session:
        _, row = start_session(session, timeouts=timeouts, now=NOW)
        citizen = citizen_store.get_by_id(session, citizen_id=citizen_id)
        assert citizen is not None
        login_at = NOW + timedelta(hours=1, minutes=30)
        token = authenticate_session(
            session,
            row=row,
            citizen=citizen,
            method=AuthMethod.PASSWORD,
            timeouts=timeouts,
            now=login_at,
        )

    for hours in (2.5, 3.5):  # past three hours after the session began, kept active
        when = NOW + timedelta(hours=hours)
        assert _load(database, token, now=when, timeouts=timeouts) is not None
    assert _load(database, token, now=login_at + timedelta(hours=3), timeouts=timeouts) is None


def test_end_session_deletes_it(database: Database) -> None:
    token, row_id = _start(database)
    other_token, _ = _start(database)
    with database.transaction() as session:
        row = load_session(session, token=token, timeouts=TIMEOUTS, now=NOW)
        assert row is not None
        end_session(session, row=row)
    assert _row(database, row_id) is None
    assert _load(database, token, now=NOW) is None
    assert _load(database, other_token, now=NOW) is not None
    assert count_rows(database, BrowserSession) == 1


def test_delete_expired_removes_what_load_session_would_refuse(database: Database) -> None:
    _, expired_id = _start(database, now=NOW - IDLE)  # expires exactly at NOW
    _, live_id = _start(database)
    with database.transaction() as session:
        assert store.delete_expired(session, now=NOW) == 1
    assert _row(database, expired_id) is None
    assert _row(database, live_id) is not None
