"""Revocation endpoint (RFC 7009): always 200 for a token the caller may not touch."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from idp.dependencies import ContextDep, DbDep
from idp.oidc import endpoints
from idp.oidc.introspection import revoke
from idp.oidc.routers.introspection import authenticated_caller, required_token
from idp.oidc.routers.token import NO_STORE, FormDep

router = APIRouter()


@router.post(endpoints.REVOCATION)
def revocation(request: Request, form: FormDep, db: DbDep, context: ContextDep) -> Response:
    caller = authenticated_caller(request, form, db, context, endpoints.REVOCATION)
    revoke(db, context, caller=caller, token=required_token(form))
    return Response(status_code=200, headers=NO_STORE)
