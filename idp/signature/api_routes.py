"""The signature API for relying parties, and the public CA, CRL and verification endpoints.

- ``POST /signature/requests`` (a bearer access token from the client_credentials grant with
  the ``signature`` scope): create a request (``idp.signature.requests``); 201 with its id and
  the ``approval_uri`` to send the citizen to.
- ``GET /signature/requests/{id}``: the status and, once the citizen approved, the signatures;
  only for the client that created the request (any other gets 404, not 403, so that ids
  cannot be probed).
- ``GET /signature/ca.pem`` and ``GET /signature/crl`` (DER, ``application/pkix-crl``): what a
  verifier needs, public.
- ``POST /signature/verify``: a verification report (``idp.signature.verification``) for a
  document (or its hash) and a signature, public.

Errors are JSON in the RFC 6749 shape, like the token endpoint's.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from idp.context import ProviderContext
from idp.dependencies import ContextDep, DbDep
from idp.errors import InvalidRequest, NotFound, ProviderError
from idp.oidc import endpoints
from idp.oidc.bearer import InsufficientScope, extract_token, verify_access_token
from idp.signature import credentials, requests
from idp.signature.ca import SignatureCaError
from idp.signature.digests import DigestError, parse_digest
from idp.signature.verification import SignatureFormatError, verify_signature
from idp.storage import clients as client_store
from idp.storage.models import OAuthClient, SignatureRequest

router = APIRouter()

REQUESTS_PATH = endpoints.SIGNATURE_REQUESTS
VERIFY_PATH = endpoints.SIGNATURE_VERIFY
APPROVAL_PATH = endpoints.SIGNATURE_APPROVE
SIGNATURE_SCOPE = "signature"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_SIGNATURE_BYTES = 64 * 1024


class SignatureServiceUnavailable(ProviderError):
    error = "temporarily_unavailable"
    status_code = 503
    default_description = "The signature service is not configured on this provider."


def calling_client(request: Request, session: Session, context: ProviderContext) -> OAuthClient:
    """The client behind the bearer token, which must carry the ``signature`` scope and come
    from the client_credentials grant (a token issued for a citizen never does)."""
    token = extract_token(
        authorization=request.headers.get("authorization"),
        form_token=None,
        query_has_token="access_token" in request.query_params,
    )
    claims = verify_access_token(session, context, token)
    client_id = claims.get("client_id")
    scopes = str(claims.get("scope", "")).split()
    if SIGNATURE_SCOPE not in scopes or claims.get("sub") != client_id:
        raise InsufficientScope("The access token needs the signature scope.")
    client = client_store.get_client(session, client_id=str(client_id))
    if client is None or SIGNATURE_SCOPE not in client.scopes:
        raise InsufficientScope("This client may not request signatures.")
    return client


async def _json_body(request: Request) -> Any:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidRequest("Send the request as application/json.")
    try:
        return json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest("The body is not valid JSON.") from None


@router.post(REQUESTS_PATH, status_code=201)
async def create_signature_request(request: Request, context: ContextDep) -> JSONResponse:
    body = await _json_body(request)
    settings = context.settings
    with context.database.transaction() as session:
        client = calling_client(request, session, context)
        if not context.signature_authority.available():
            raise SignatureServiceUnavailable()
        new = requests.parse_new_request(body, client=client)
        ttl_seconds = settings.signature_request_ttl_seconds
        row = requests.create_request(
            session, client=client, new=new, ttl=timedelta(seconds=ttl_seconds), now=context.clock()
        )
        request_id = row.id
    approval_uri = endpoints.absolute(settings.issuer, APPROVAL_PATH)
    return JSONResponse(
        {
            "request_id": request_id,
            "approval_uri": f"{approval_uri}?request_id={request_id}",
            "expires_in": ttl_seconds,
        },
        status_code=201,
        headers=NO_STORE,
    )


@router.get(REQUESTS_PATH + "/{request_id}")
def fetch_signature_request(
    request_id: str, request: Request, db: DbDep, context: ContextDep
) -> JSONResponse:
    client = calling_client(request, db, context)
    row = db.get(SignatureRequest, request_id) if len(request_id) <= 64 else None
    if row is None or row.client_id != client.client_id:
        raise NotFound("No such signature request for this client.")
    return JSONResponse(requests.result_document(row, now=context.clock()), headers=NO_STORE)


@router.get(credentials.CA_CERTIFICATE_PATH)
def ca_certificate(context: ContextDep) -> Response:
    try:
        ca = context.signature_authority.ca()
    except SignatureCaError:
        raise SignatureServiceUnavailable() from None
    pem = ca.certificate.public_bytes(serialization.Encoding.PEM)
    return Response(pem, media_type="application/x-pem-file")


@router.get(credentials.CRL_PATH)
def certificate_revocation_list(db: DbDep, context: ContextDep) -> Response:
    try:
        crl = credentials.current_crl(
            db, authority=context.signature_authority, now=context.clock()
        )
    except SignatureCaError:
        raise SignatureServiceUnavailable() from None
    der = crl.public_bytes(serialization.Encoding.DER)
    return Response(der, media_type="application/pkix-crl", headers={"cache-control": "max-age=60"})


def _base64(value: object, *, field: str, limit: int) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{field} must be a base64 string.")
    if len(value) > limit * 4 // 3 + 4:
        raise InvalidRequest(f"{field} is too large.")
    url_safe = "-" in value or "_" in value
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if url_safe else None, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} is not valid base64.") from None


@router.post(VERIFY_PATH)
async def verify(request: Request, context: ContextDep) -> JSONResponse:
    """Body: ``signature`` (base64 of a CAdES DER, or a JAdES compact JWS as is) and either
    ``document`` (base64) or ``hash`` with ``hash_algorithm``."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    raw_signature = body.get("signature")
    if isinstance(raw_signature, str) and raw_signature.count(".") == 2:
        signature = raw_signature.encode("ascii", "replace")
    else:
        signature = _base64(raw_signature, field="signature", limit=MAX_SIGNATURE_BYTES)
    document = digest = algorithm = None
    if "document" in body:
        document = _base64(
            body["document"], field="document", limit=context.settings.max_request_body_bytes
        )
    elif isinstance(body.get("hash"), str) and isinstance(body.get("hash_algorithm"), str):
        algorithm = body["hash_algorithm"]
        try:
            digest = parse_digest(algorithm, body["hash"])
        except DigestError as exc:
            raise InvalidRequest(str(exc)) from None
    else:
        raise InvalidRequest("Send the document, or its hash and hash_algorithm.")
    try:
        ca = context.signature_authority.ca()
    except SignatureCaError:
        raise SignatureServiceUnavailable() from None
    now = context.clock()
    with context.database.transaction() as session:
        try:
            report = verify_signature(
                signature=signature,
                document=document,
                digest=digest,
                digest_algorithm=algorithm,
                trusted_ca=ca.certificate,
                is_revoked=credentials.revocation_lookup(session),
                now=now,
            )
        except SignatureFormatError as exc:
            raise InvalidRequest(str(exc)) from None
    return JSONResponse(report.to_json(), headers=NO_STORE)
