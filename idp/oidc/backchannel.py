"""OpenID Connect Back-Channel Logout 1.0: logout tokens queued in the database and POSTed to
the clients by a background loop, never on the citizen's request path.

A delivery that fails is retried with exponential backoff (10 s, 20 s, 40 s, ...) up to
``MAX_ATTEMPTS``. Each due row is claimed with a conditional UPDATE before it is sent, so two
workers never send the same row at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.context import ProviderContext
from idp.oidc import jose, tokens
from idp.oidc.outbound import OutboundRefused, check_url
from idp.storage.models import BackchannelLogoutDelivery, OAuthClient

logger = logging.getLogger("idp.backchannel")

MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(seconds=10)
CLAIM_LEASE = timedelta(seconds=60)
LOGOUT_TOKEN_TTL = timedelta(minutes=2)
POLL_SECONDS = 2.0
POST_TIMEOUT_SECONDS = 5.0


def enqueue(
    session: Session,
    context: ProviderContext,
    *,
    client: OAuthClient,
    subject: str,
    sid: str | None,
    now: datetime,
) -> None:
    """Queue a logout token for a client that registered a back-channel logout URI."""
    if not client.backchannel_logout_uri:
        return
    claims = tokens.logout_token_claims(
        issuer=context.settings.issuer,
        client_id=client.client_id,
        now=now,
        ttl=LOGOUT_TOKEN_TTL,
        jti=tokens.new_jti(),
        subject=subject,
        sid=sid,
    )
    token = jose.sign(
        context.keyring,
        claims,
        alg=client.id_token_signed_response_alg,
        typ=tokens.LOGOUT_TOKEN_TYPE,
    )
    session.add(
        BackchannelLogoutDelivery(
            client_id=client.client_id,
            logout_uri=client.backchannel_logout_uri,
            logout_token=token,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    session.flush()


def _post(url: str, token: str, context: ProviderContext) -> str | None:
    """POST the logout token; None on success, else a short reason (no token in it)."""
    try:
        check_url(url, context.settings)
        with httpx.stream(
            "POST",
            url,
            data={"logout_token": token},
            timeout=POST_TIMEOUT_SECONDS,
            follow_redirects=False,
        ) as response:  # the answer's body is never read: a huge one costs nothing
            status = response.status_code
    except OutboundRefused as exc:
        return f"refused: {exc}"
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if status in (200, 204):
        return None
    return f"HTTP {status}"


def deliver_due(context: ProviderContext, now: datetime) -> int:
    """Send every delivery that is due; returns how many were delivered."""
    with context.database.transaction() as session:
        due = session.execute(
            select(BackchannelLogoutDelivery.id, BackchannelLogoutDelivery.next_attempt_at)
            .where(
                BackchannelLogoutDelivery.delivered_at.is_(None),
                BackchannelLogoutDelivery.attempts < MAX_ATTEMPTS,
                BackchannelLogoutDelivery.next_attempt_at <= now,
            )
            .limit(100)
        ).all()
    delivered = 0
    for delivery_id, scheduled in due:
        with context.database.transaction() as session:
            claimed = session.execute(
                update(BackchannelLogoutDelivery)
                .where(
                    BackchannelLogoutDelivery.id == delivery_id,
                    BackchannelLogoutDelivery.next_attempt_at == scheduled,
                )
                .values(next_attempt_at=now + CLAIM_LEASE)
            )
            if not getattr(claimed, "rowcount", 0):
                continue
            row = session.get(BackchannelLogoutDelivery, delivery_id)
            assert row is not None
            url, token = row.logout_uri, row.logout_token
        failure = _post(url, token, context)
        with context.database.transaction() as session:
            row = session.get(BackchannelLogoutDelivery, delivery_id)
            if row is None:
                continue
            row.attempts += 1
            if failure is None:
                row.delivered_at = now
                delivered += 1
            else:
                row.last_error = failure[:200]
                row.next_attempt_at = now + BASE_DELAY * (2 ** (row.attempts - 1))
                logger.info("back-channel logout to %s failed: %s", row.client_id, failure)
    return delivered


async def backchannel_worker(context: ProviderContext) -> None:
    while True:
        try:
            await asyncio.to_thread(deliver_due, context, context.clock())
        except Exception:  # keep the loop alive; the cause is logged
            logger.exception("back-channel logout delivery failed")
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def running_backchannel_worker(context: ProviderContext) -> AsyncIterator[None]:
    task = asyncio.create_task(backchannel_worker(context))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
