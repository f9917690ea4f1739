"""Browser sessions: creation, lookup with idle and absolute timeouts, rotation at login.

The cookie holds 256 random bits; the database holds only their SHA-256, so a copy of the
database does not let anyone ride a session. The id is rotated whenever the session is
authenticated (no session fixation). Each session carries the CSRF token of its forms.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from idp.assurance.methods import RFC8176_VALUES, AuthMethod, record_method
from idp.config import Settings
from idp.storage import browser_sessions as store
from idp.storage.models import BrowserSession, Citizen

LAST_SEEN_RESOLUTION = timedelta(seconds=60)
"""Refresh ``last_seen_at`` at most once a minute, to avoid a write on every page view."""


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionTimeouts:
        return cls(
            idle=timedelta(seconds=settings.session_idle_timeout_seconds),
            absolute=timedelta(seconds=settings.session_absolute_timeout_seconds),
        )


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _expiry(*, started_at: datetime, seen_at: datetime, timeouts: SessionTimeouts) -> datetime:
    return min(started_at + timeouts.absolute, seen_at + timeouts.idle)


def load_session(
    session: Session, *, token: str | None, timeouts: SessionTimeouts, now: datetime
) -> BrowserSession | None:
    """The live session for a cookie value, or None (unknown, idle too long, or too old)."""
    if not token or len(token) > 200:
        return None
    row = store.find_by_token_hash(session, token_hash=hash_session_token(token))
    if row is None:
        return None
    if now >= row.expires_at:
        store.delete_session(session, row=row)
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
        row.expires_at = _expiry(started_at=row.created_at, seen_at=now, timeouts=timeouts)
    return row


def start_session(
    session: Session, *, timeouts: SessionTimeouts, now: datetime
) -> tuple[str, BrowserSession]:
    """A new anonymous session; returns the cookie value and the row."""
    token = _new_token()
    row = store.add_session(
        session,
        token_hash=hash_session_token(token),
        csrf_token=secrets.token_urlsafe(32),
        now=now,
        expires_at=_expiry(started_at=now, seen_at=now, timeouts=timeouts),
    )
    return token, row


def authenticate_session(
    session: Session,
    *,
    row: BrowserSession,
    citizen: Citizen,
    method: AuthMethod,
    timeouts: SessionTimeouts,
    now: datetime,
) -> str:
    """Bind the session to a citizen, rotating its id and CSRF token; returns the new cookie.

    Logging in again as the same citizen (``prompt=login``, ``max_age``) keeps the methods
    proven before, whose own lifetimes still apply; another citizen starts from nothing."""
    kept = row.auth_methods if row.citizen_id == citizen.id else None
    token = _new_token()
    row.token_hash = hash_session_token(token)
    row.csrf_token = secrets.token_urlsafe(32)
    row.citizen_id = citizen.id
    row.authenticated_at = now
    row.federation = None  # a cross-border login sets it again after this call
    row.auth_methods = record_method(kept, method, now=now)
    row.amr = [value for name in row.auth_methods for value in RFC8176_VALUES[AuthMethod(name)]]
    row.created_at = now
    row.last_seen_at = now
    row.expires_at = _expiry(started_at=now, seen_at=now, timeouts=timeouts)
    session.flush()
    return token


def elevate_session(
    session: Session, *, row: BrowserSession, method: AuthMethod, now: datetime
) -> str:
    """Record a step-up (a second factor, the eID card) on an authenticated session, rotating
    its id and CSRF token as at login; returns the new cookie. ``authenticated_at`` moves to
    now, since ``auth_time`` is the time of the latest authentication the citizen made; the
    session's absolute lifetime does not move."""
    if row.citizen_id is None:
        raise ValueError("only an authenticated session can be elevated")
    token = _new_token()
    row.token_hash = hash_session_token(token)
    row.csrf_token = secrets.token_urlsafe(32)
    row.authenticated_at = now
    row.auth_methods = record_method(row.auth_methods, method, now=now)
    row.amr = [value for name in row.auth_methods for value in RFC8176_VALUES[AuthMethod(name)]]
    session.flush()
    return token


def end_session(session: Session, *, row: BrowserSession) -> None:
    store.delete_session(session, row=row)
