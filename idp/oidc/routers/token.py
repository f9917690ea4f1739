"""Token endpoint (RFC 6749 3.2), as node's oidc-provider lays it out: an ordered list of steps.

1. ``no-store``: every response, errors included, carries ``Cache-Control: no-store`` and
   ``Pragma: no-cache`` (RFC 6749 5.1; ``idp.web.error_pages`` adds them to errors).
2. ``token_form``: the body, ``application/x-www-form-urlencoded`` only, at most 64 KiB and
   32 parameters, none repeated.
3. ``authenticated_client``: the registered authentication method (OIDC Core 9).
4. ``requested_grant_type``: supported and registered for the client.
5. the grant handler (``idp.oidc.token.GRANT_HANDLERS``), then the JSON token response.

The body is read on the event loop; the rest, which uses the database, runs in the thread pool
in one hop with its transaction (``idp.dependencies.run_in_transaction``).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.requests import Request

from idp.config import Settings
from idp.context import ProviderContext
from idp.dependencies import run_in_transaction
from idp.errors import InvalidClient, RequestTooLarge
from idp.federation.registration import AutomaticRegistrations
from idp.oidc import endpoints
from idp.oidc.client_assertion import ClientAssertionVerifier
from idp.oidc.client_auth import (
    AssertionVerifier,
    PresentedCredentials,
    authenticate_client,
    presented_credentials,
)
from idp.oidc.client_cache import ClientRegistration
from idp.oidc.token import (
    GRANT_HANDLERS,
    MAX_BODY_BYTES,
    parse_token_form,
    requested_grant_type,
)
from idp.ops.metrics import count_token_issued
from idp.storage.models import ClientAuthMethod

router = APIRouter()

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


async def limited_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestTooLarge()
    return bytes(body)


async def token_form(request: Request) -> dict[str, str]:
    """Steps 1-2 (also used by introspection and revocation, RFC 7662 2.1 and RFC 7009 2.1)."""
    body = await limited_body(request, MAX_BODY_BYTES)
    return parse_token_form(request.headers.get("content-type"), body)


FormDep = Annotated[dict[str, str], Depends(token_form)]


def _no_assertion(session: Session, credentials: PresentedCredentials, now: datetime) -> str:
    """Never called: only private_key_jwt credentials reach an assertion verifier."""
    raise InvalidClient(debug="no client assertion was presented")


def assertion_verifier(
    settings: Settings,
    method: ClientAuthMethod,
    registrations: AutomaticRegistrations | None = None,
) -> AssertionVerifier:
    """RFC 7523 3: the assertion's audience is the token endpoint (or the issuer, which RP
    libraries also use). Built only for private_key_jwt requests. With ``registrations``, an
    expired automatic registration (OpenID Federation 12.1) is resolved again first."""
    if method is not ClientAuthMethod.PRIVATE_KEY_JWT:
        return _no_assertion
    return ClientAssertionVerifier(
        settings,
        audiences=[settings.issuer, endpoints.absolute(settings.issuer, endpoints.TOKEN)],
        registrations=registrations,
    )


def authenticated_client(
    request: Request, form: dict[str, str], db: Session, context: ProviderContext, now: datetime
) -> ClientRegistration:
    """Step 3: OIDC Core 9 / RFC 6749 2.3; every failure is ``invalid_client``."""
    credentials = presented_credentials(
        authorization=request.headers.get("authorization"), form=form
    )
    return authenticate_client(
        db,
        credentials=credentials,
        verify_assertion=assertion_verifier(
            context.settings,
            credentials.method,
            AutomaticRegistrations(context.settings, context.federation, context.clients),
        ),
        clients=context.clients,
        now=now,
    )


@router.post(endpoints.TOKEN)
async def token(request: Request) -> JSONResponse:
    form = await token_form(request)
    return await run_in_transaction(request, partial(token_response, request, form))


def token_response(
    request: Request, form: dict[str, str], db: Session, context: ProviderContext
) -> JSONResponse:
    """Steps 3 to 5."""
    now = context.clock()
    client = authenticated_client(request, form, db, context, now)
    grant_type = requested_grant_type(form, client)
    body = GRANT_HANDLERS[grant_type](
        db, form=form, client=client, keyring=context.keyring, settings=context.settings, now=now
    )
    count_token_issued(request, grant_type)
    return JSONResponse(body, headers=NO_STORE)
