"""Token endpoint (RFC 6749 3.2): no-store -> parse form -> authenticate client -> check the
grant type -> run the grant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.requests import Request

from idp.dependencies import ContextDep, DbDep
from idp.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from idp.oidc import endpoints
from idp.oidc.client_assertion import ClientAssertionVerifier
from idp.oidc.client_auth import authenticate_client, presented_credentials
from idp.oidc.token import GRANT_HANDLERS

router = APIRouter()

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_FORM_FIELDS = 50


async def token_form(request: Request) -> dict[str, str]:
    """The x-www-form-urlencoded body, each parameter once (RFC 6749 3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("The body must be application/x-www-form-urlencoded.")
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    values: dict[str, str] = {}
    for name, value in form.multi_items():
        if name in values or not isinstance(value, str):
            raise InvalidRequest(f"The parameter {name} must be sent once.")
        values[name] = value
    return values


FormDep = Annotated[dict[str, str], Depends(token_form)]


@router.post(endpoints.TOKEN)
def token(request: Request, form: FormDep, db: DbDep, context: ContextDep) -> JSONResponse:
    settings = context.settings
    now = context.clock()
    credentials = presented_credentials(
        authorization=request.headers.get("authorization"), form=form
    )
    verifier = ClientAssertionVerifier(
        settings,
        audiences=[settings.issuer, endpoints.absolute(settings.issuer, endpoints.TOKEN)],
    )
    client = authenticate_client(db, credentials=credentials, verify_assertion=verifier, now=now)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("The grant_type parameter is missing.")
    handler = GRANT_HANDLERS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType(f"Unsupported grant_type {grant_type[:40]!r}.")
    if grant_type not in client.grant_types:
        raise UnauthorizedClient("This client is not registered for this grant type.")
    body = handler(
        db, form=form, client=client, keyring=context.keyring, settings=settings, now=now
    )
    return JSONResponse(body, headers=NO_STORE)
