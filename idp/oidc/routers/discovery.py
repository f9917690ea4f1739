"""Discovery and JWKS, served from precomputed bytes (``idp.oidc.published``).

The routes are ``async def`` and read nothing but those bytes, so a request costs no thread
hop, no dependency and no JSON encoding; only when the bytes are due for a check against the
key ring (at most every 0.25 s) is that check run in the thread pool, since it may reload the
key ring from the database.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idp.oidc import endpoints
from idp.oidc.published import Documents, PublishedDocuments

router = APIRouter()

DISCOVERY_CACHE_CONTROL = "public, max-age=300"


async def current_documents(request: Request) -> Documents:
    published: PublishedDocuments = request.app.state.provider.documents
    return published.fresh() or await run_in_threadpool(published.refresh)


@router.get(endpoints.DISCOVERY)
@router.get(endpoints.AUTHORIZATION_SERVER_METADATA)
async def discovery(request: Request) -> Response:
    documents = await current_documents(request)
    return Response(
        documents.discovery,
        media_type="application/json",
        headers={"cache-control": DISCOVERY_CACHE_CONTROL},
    )


@router.get(endpoints.JWKS)
async def jwks(request: Request) -> Response:
    """RFC 7517 5: next, current and retired public keys; revoked keys never. Cached by clients
    no longer than workers take to see a key change."""
    documents = await current_documents(request)
    refresh_seconds = request.app.state.provider.settings.key_refresh_seconds
    return Response(
        documents.jwks,
        media_type="application/jwk-set+json",
        headers={"cache-control": f"public, max-age={refresh_seconds}"},
    )
