"""Issuing an authorization code: the grant it belongs to and the code itself (RFC 6749
4.1.2; codes live at most 60 s and are stored only as hashes)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from idp.oidc.authorize import ValidatedRequest
from idp.oidc.tokens import new_opaque_token, token_hash
from idp.storage import grants
from idp.storage.models import AuthorizationCode, BrowserSession, Grant


def issue_code(
    session: Session,
    *,
    request: ValidatedRequest,
    browser_session: BrowserSession,
    citizen_id: int,
    acr: str | None,
    amr: list[str],
    scopes: list[str],
    now: datetime,
    code_ttl: timedelta,
    grant_ttl: timedelta,
) -> str:
    if browser_session.sid is None:
        browser_session.sid = secrets.token_urlsafe(24)
    grant = grants.add_grant(
        session,
        grant=Grant(
            id=secrets.token_urlsafe(32),
            client_id=request.client_id,
            citizen_id=citizen_id,
            scope=" ".join(scopes),
            claims=request.claims or None,
            sid=browser_session.sid,
            auth_time=browser_session.authenticated_at or now,
            acr=acr,
            amr=amr,
            created_at=now,
            expires_at=now + grant_ttl,
        ),
    )
    code = new_opaque_token()
    grants.add_authorization_code(
        session,
        code=AuthorizationCode(
            code_hash=token_hash(code),
            grant_id=grant.id,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            nonce=request.nonce,
            created_at=now,
            expires_at=now + code_ttl,
        ),
    )
    return code
