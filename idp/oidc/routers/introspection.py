"""Introspection endpoint (RFC 7662): authenticated confidential clients only."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request

from idp.dependencies import ContextDep, DbDep
from idp.errors import InvalidClient, InvalidRequest
from idp.oidc import endpoints
from idp.oidc.client_assertion import ClientAssertionVerifier
from idp.oidc.client_auth import authenticate_client, presented_credentials
from idp.oidc.client_cache import ClientRegistration
from idp.oidc.introspection import TOKEN_TYPE_HINTS, UnsupportedTokenType, introspect
from idp.oidc.routers.token import NO_STORE, FormDep
from idp.storage.models import ClientAuthMethod

router = APIRouter()


def authenticated_caller(
    request: Request, form: dict[str, str], db: DbDep, context: ContextDep, path: str
) -> ClientRegistration:
    settings = context.settings
    credentials = presented_credentials(
        authorization=request.headers.get("authorization"), form=form
    )
    if credentials.method is ClientAuthMethod.NONE:
        raise InvalidClient(debug="public clients cannot call this endpoint")
    verifier = ClientAssertionVerifier(
        settings, audiences=[settings.issuer, endpoints.absolute(settings.issuer, path)]
    )
    return authenticate_client(
        db,
        credentials=credentials,
        verify_assertion=verifier,
        clients=context.clients,
        now=context.clock(),
    )


def required_token(form: dict[str, str]) -> str:
    token = form.get("token")
    if not token:
        raise InvalidRequest("The token parameter is missing.")
    hint = form.get("token_type_hint")
    if hint is not None and hint not in TOKEN_TYPE_HINTS:
        raise UnsupportedTokenType()
    return token


@router.post(endpoints.INTROSPECTION)
def introspection(request: Request, form: FormDep, db: DbDep, context: ContextDep) -> JSONResponse:
    caller = authenticated_caller(request, form, db, context, endpoints.INTROSPECTION)
    token = required_token(form)
    return JSONResponse(introspect(db, context, caller=caller, token=token), headers=NO_STORE)
