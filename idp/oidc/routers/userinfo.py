"""UserInfo endpoint (OIDC Core 5.3), GET and POST; ``verified_claims`` when the ``claims``
parameter asked for them at UserInfo (OpenID Connect for Identity Assurance 1.0)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from idp.assurance.verified_claims import release_verified_claims
from idp.context import ProviderContext
from idp.dependencies import run_in_transaction
from idp.errors import InvalidToken
from idp.oidc import endpoints, jose
from idp.oidc.bearer import (
    InsufficientScope,
    challenge,
    extract_token,
    verify_access_token_signature,
)
from idp.oidc.claims import (
    citizen_claim_values,
    claims_request_from_json,
    release_claims,
    scope_claim_names,
    subject_for,
)
from idp.oidc.tokens import USERINFO_TYPE
from idp.storage import grants, token_grants
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


def token_client_id(claims: dict[str, object]) -> str | None:
    """The token's ``client_id``, or None if no client can have it (see
    ``idp.storage.clients.get_client``)."""
    value = str(claims.get("client_id", ""))
    if not value or len(value) > 64 or not value.isprintable():
        return None
    return value


@router.api_route(endpoints.USERINFO, methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    token = await bearer_token(request)
    return await run_in_transaction(request, partial(userinfo_response, token))


def userinfo_response(token: str, db: Session, context: ProviderContext) -> Response:
    """Verify the token (signature, then revocation and grant, RFC 6750 3.1), check its scope
    (``insufficient_scope``), then release the citizen's claims (OIDC Core 5.3.2).

    The token's revocation, grant, citizen and client are read in one statement outside a
    transaction (``idp.storage.token_grants.userinfo_source``): one round trip, not seven."""
    claims = verify_access_token_signature(context, token)
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise InvalidToken(debug="access token without jti", headers=challenge("invalid_token"))
    token_grants.read_without_transaction(db)
    grant_id = claims.get("grant_id")
    if grant_id is None:
        if grants.access_token_is_revoked(db, jti=jti):
            raise InvalidToken(debug="revoked access token", headers=challenge("invalid_token"))
        raise InvalidToken(
            "This access token was not issued for a citizen.", headers=challenge("invalid_token")
        )
    source = token_grants.userinfo_source(
        db, jti=jti, grant_id=str(grant_id), client_id=token_client_id(claims)
    )
    if source is not None and source.token_revoked:
        raise InvalidToken(debug="revoked access token", headers=challenge("invalid_token"))
    if source is None or not source.grant_is_active(context.clock()):
        raise InvalidToken(debug="grant revoked", headers=challenge("invalid_token"))
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:
        raise InsufficientScope(headers=challenge("insufficient_scope"))
    client, citizen = source.client, source.citizen
    if client is None or citizen.status != CitizenStatus.ACTIVE:
        raise InvalidToken(headers=challenge("invalid_token"))
    settings = context.settings
    requested = claims_request_from_json(source.grant_claims)
    subject = subject_for(
        citizen=citizen,
        subject_type=client.subject_type,
        sector=client.sector_identifier,
        salt=settings.pairwise_salt_bytes(),
    )
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
