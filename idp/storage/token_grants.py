"""Queries of the token endpoint that ``idp.storage.grants`` does not have.

A grant and its citizen are read in one round trip: both are needed for every token issued
from a grant (the subject, the released claims, the account status), and the token endpoint
is on the hot path of every relying party.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.storage.models import Citizen, Grant


def grant_with_citizen(session: Session, *, grant_id: str) -> tuple[Grant, Citizen] | None:
    """The grant and the citizen who gave it, or None if the grant does not exist."""
    row = session.execute(
        select(Grant, Citizen)
        .join(Citizen, Citizen.id == Grant.citizen_id)
        .where(Grant.id == grant_id)
    ).one_or_none()
    if row is None:
        return None
    return row[0], row[1]
