"""Discovery and JWKS. The discovery document is serialised once per application and rebuilt
only when the set of signing algorithms changes: it is the most frequently fetched document."""

from __future__ import annotations

import json

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from idp.dependencies import ContextDep
from idp.oidc import endpoints
from idp.oidc.discovery import provider_metadata

router = APIRouter()


@router.get(endpoints.DISCOVERY)
@router.get(endpoints.AUTHORIZATION_SERVER_METADATA)
def discovery(request: Request, context: ContextDep) -> Response:
    algs = tuple(context.keyring.signing_algorithms())
    cached: tuple[tuple[str, ...], bytes] | None = getattr(
        request.app.state, "discovery_document", None
    )
    if cached is None or cached[0] != algs:
        body = json.dumps(
            provider_metadata(context.settings, signing_algs=list(algs)), separators=(",", ":")
        ).encode()
        cached = (algs, body)
        request.app.state.discovery_document = cached
    return Response(
        cached[1], media_type="application/json", headers={"cache-control": "public, max-age=300"}
    )


@router.get(endpoints.JWKS)
def jwks(context: ContextDep) -> Response:
    """RFC 7517 5: next, current and retired public keys; revoked keys never. Cached by clients
    no longer than workers take to see a key change."""
    body = json.dumps(context.keyring.jwks(), separators=(",", ":")).encode()
    return Response(
        body,
        media_type="application/jwk-set+json",
        headers={"cache-control": f"public, max-age={context.settings.key_refresh_seconds}"},
    )
