"""Browser session repository. Rows are found by the SHA-256 of the cookie value."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.storage.models import BrowserSession


def find_by_token_hash(session: Session, *, token_hash: str) -> BrowserSession | None:
    return session.scalars(
        select(BrowserSession).where(BrowserSession.token_hash == token_hash)
    ).one_or_none()


def add_session(
    session: Session, *, token_hash: str, csrf_token: str, now: datetime, expires_at: datetime
) -> BrowserSession:
    row = BrowserSession(
        token_hash=token_hash,
        csrf_token=csrf_token,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def delete_session(session: Session, *, row: BrowserSession) -> None:
    session.delete(row)
    session.flush()


def delete_expired(session: Session, *, now: datetime) -> int:
    """Delete the sessions that ``load_session`` would refuse at ``now`` (expiry included)."""
    result = session.execute(delete(BrowserSession).where(BrowserSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
