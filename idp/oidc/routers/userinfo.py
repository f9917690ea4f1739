"""UserInfo endpoint (OIDC Core 5.3), GET and POST; ``verified_claims`` when the ``claims``
parameter asked for them at UserInfo (OpenID Connect for Identity Assurance 1.0)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from idp.assurance.verified_claims import release_verified_claims
from idp.dependencies import ContextDep, DbDep
from idp.errors import InvalidToken
from idp.oidc import endpoints, jose
from idp.oidc.bearer import InsufficientScope, challenge, extract_token, verify_access_token
from idp.oidc.claims import (
    citizen_claim_values,
    claims_request_from_json,
    release_claims,
    scope_claim_names,
)
from idp.oidc.issuance import subject_of
from idp.oidc.tokens import USERINFO_TYPE
from idp.storage import citizens as citizen_store
from idp.storage import clients as client_store
from idp.storage import grants
from idp.storage.models import CitizenStatus

router = APIRouter()

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


async def bearer_token(request: Request) -> str:
    """The presented access token (parsing the body is async; the database work is not)."""
    form_token = None
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form(max_fields=10)
        value = form.get("access_token")
        form_token = value if isinstance(value, str) else None
    return extract_token(
        authorization=request.headers.get("authorization"),
        form_token=form_token,
        query_has_token="access_token" in request.query_params,
    )


@router.api_route(endpoints.USERINFO, methods=["GET", "POST"])
def userinfo(
    token: Annotated[str, Depends(bearer_token)], db: DbDep, context: ContextDep
) -> Response:
    claims = verify_access_token(db, context, token)
    grant_id = claims.get("grant_id")
    if grant_id is None:
        raise InvalidToken(
            "This access token was not issued for a citizen.", headers=challenge("invalid_token")
        )
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:
        raise InsufficientScope(headers=challenge("insufficient_scope"))
    grant = grants.get_grant(db, grant_id=str(grant_id))
    client = client_store.get_client(db, client_id=str(claims.get("client_id", "")))
    citizen = citizen_store.get_by_id(db, citizen_id=grant.citizen_id) if grant else None
    if grant is None or client is None or citizen is None or citizen.status != CitizenStatus.ACTIVE:
        raise InvalidToken(headers=challenge("invalid_token"))
    settings = context.settings
    requested = claims_request_from_json(grant.claims)
    subject = subject_of(citizen, client, settings)
    body = release_claims(
        values=citizen_claim_values(citizen),
        scope_names=scope_claim_names(scopes),
        requested=requested.userinfo,
    )
    body.update(
        release_verified_claims(
            requested.userinfo_verified_claims,
            citizen=citizen,
            settings=settings,
            subject=subject,
            now=context.clock(),
        )
    )
    body["sub"] = subject
    if client.userinfo_signed_response_alg:
        body.update({"iss": settings.issuer, "aud": client.client_id})
        signed = jose.sign(
            context.keyring, body, alg=client.userinfo_signed_response_alg, typ=USERINFO_TYPE
        )
        return Response(signed, media_type="application/jwt", headers=NO_STORE)
    return JSONResponse(body, headers=NO_STORE)
