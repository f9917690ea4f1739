"""OAuth client repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.storage.models import OAuthClient


def get_client(session: Session, *, client_id: str) -> OAuthClient | None:
    """The client, or None; an id no client can have (too long, control characters such as
    NUL, which PostgreSQL refuses with an error) is not looked up at all."""
    if not client_id or len(client_id) > 64 or not client_id.isprintable():
        return None
    return session.get(OAuthClient, client_id)


def list_clients(session: Session) -> Sequence[OAuthClient]:
    return session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)).all()


def add_client(session: Session, *, client: OAuthClient) -> OAuthClient:
    session.add(client)
    session.flush()
    return client


def delete_client(session: Session, *, client: OAuthClient) -> None:
    session.delete(client)
    session.flush()


def touch(client: OAuthClient, *, now: datetime) -> None:
    client.updated_at = now
