"""Federation endpoints (OpenID Federation 1.0): thin routes over :mod:`idp.federation.entity`.

- ``GET /.well-known/openid-federation`` (section 9): the signed Entity Configuration,
  ``application/entity-statement+jwt``; 404 when federation is off.
- ``GET /federation/fetch?sub=`` (section 8.1, Trust Anchor only): the Subordinate Statement
  about an active Immediate Subordinate.
- ``GET /federation/list[?entity_type=]`` (section 8.2, Trust Anchor only): a JSON array of
  the Entity Identifiers of the active Immediate Subordinates.
- ``GET /federation/resolve?sub=&trust_anchor=[&entity_type=]`` (section 8.3, Trust Anchor
  only): the subject's resolved metadata and Trust Chain, signed (``idp.federation.resolve``).

Errors of the fetch and list endpoints are the JSON of section 8.9 ("Error Responses"):
``invalid_request`` (400), ``not_found`` (404), ``unsupported_parameter`` (400).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.context import ProviderContext
from idp.dependencies import ContextDep, DbDep
from idp.federation import entity, subordinates
from idp.federation.fetcher import WELL_KNOWN_PATH
from idp.federation.resolve import RESOLVE_RESPONSE_MEDIA_TYPE, ResolveError, resolve_response
from idp.federation.statements import ENTITY_STATEMENT_MEDIA_TYPE
from idp.signing_keys.keyring import KeyRing

router = APIRouter()

UNSUPPORTED_LIST_PARAMETERS = ("trust_marked", "trust_mark_type", "intermediate")
"""Section 8.2.1 filters this Trust Anchor does not implement (it has no Trust Marks, and its
Subordinates are registered without telling intermediates apart)."""


def _federation_error(status_code: int, error: str, description: str) -> JSONResponse:
    """Section 8.9: ``error`` and ``error_description`` as JSON."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status_code,
        headers={"cache-control": "no-store"},
    )


def _federation_keyring(context: ProviderContext) -> KeyRing:
    if not context.settings.federation_enabled or context.federation_keyring is None:
        raise HTTPException(404)
    return context.federation_keyring


def _require_trust_anchor(context: ProviderContext) -> KeyRing:
    keyring = _federation_keyring(context)
    if context.settings.federation_role != entity.TRUST_ANCHOR:
        raise HTTPException(404)
    return keyring


def _now(context: ProviderContext) -> int:
    return int(context.clock().timestamp())


def _statement(token: str, *, max_age: int | None) -> Response:
    cache = f"public, max-age={max_age}" if max_age is not None else "no-store"
    return Response(token, media_type=ENTITY_STATEMENT_MEDIA_TYPE, headers={"cache-control": cache})


@router.get(WELL_KNOWN_PATH)
def entity_configuration(context: ContextDep) -> Response:
    keyring = _federation_keyring(context)
    token = entity.signed_entity_configuration(
        context.settings,
        federation_keyring=keyring,
        oidc_keyring=context.keyring,
        now=_now(context),
    )
    return _statement(token, max_age=context.settings.key_refresh_seconds)


def _single_parameter(request: Request, name: str) -> str | JSONResponse | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        return _federation_error(400, "invalid_request", f"The {name} parameter is repeated.")
    return values[0] if values else None


@router.get(entity.FETCH_ENDPOINT)
def fetch(request: Request, context: ContextDep, db: DbDep) -> Response:
    keyring = _require_trust_anchor(context)
    subject = _single_parameter(request, "sub")
    if isinstance(subject, Response):
        return subject
    if not subject:
        return _federation_error(400, "invalid_request", "The sub parameter is required.")
    subordinate = subordinates.active_subordinate(db, subject)
    if subordinate is None:
        return _federation_error(404, "not_found", "The subject is not a subordinate.")
    claims = entity.subordinate_statement_claims(
        context.settings, subordinate=subordinate, now=_now(context)
    )
    return _statement(entity.sign_statement(claims, keyring=keyring), max_age=None)


@router.get(entity.LIST_ENDPOINT)
def list_subordinates(request: Request, context: ContextDep, db: DbDep) -> Response:
    _require_trust_anchor(context)
    for name in UNSUPPORTED_LIST_PARAMETERS:
        if name in request.query_params:
            return _federation_error(
                400, "unsupported_parameter", f"The {name} parameter is not supported."
            )
    entity_type = _single_parameter(request, "entity_type")
    if isinstance(entity_type, Response):
        return entity_type
    rows = subordinates.list_subordinates(db, entity_type=entity_type or None)
    body: list[Any] = [row.entity_id for row in rows]
    return Response(
        json.dumps(body, separators=(",", ":")),
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


@router.get(entity.RESOLVE_ENDPOINT)
def resolve(request: Request, context: ContextDep, db: DbDep) -> Response:
    """Section 8.3: the subject's metadata as this Trust Anchor resolves it, signed."""
    keyring = _require_trust_anchor(context)
    values: dict[str, str | None] = {}
    for name in ("sub", "trust_anchor"):
        value = _single_parameter(request, name)
        if isinstance(value, Response):
            return value
        if not value:
            return _federation_error(400, "invalid_request", f"The {name} parameter is required.")
        values[name] = value
    entity_types = request.query_params.getlist("entity_type")
    try:
        token = resolve_response(
            context,
            db,
            keyring,
            subject=str(values["sub"]),
            trust_anchor=str(values["trust_anchor"]),
            entity_types=entity_types,
        )
    except ResolveError as exc:
        return _federation_error(exc.status_code, exc.error, exc.description)
    return Response(
        token, media_type=RESOLVE_RESPONSE_MEDIA_TYPE, headers={"cache-control": "no-store"}
    )
