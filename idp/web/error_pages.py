"""The one place that turns a ``ProviderError`` into a response.

Browsers (``Accept`` includes text/html) get a page in the citizen's language; API callers get
the OAuth JSON body (RFC 6749 5.2). Only the error code and its safe description leave the
server; debug detail and the cause of unexpected errors go to the log.
"""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from idp.config import SUPPORTED_LANGUAGES
from idp.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    ProviderError,
    RequestTooLarge,
    ServerError,
)
from idp.oidc import endpoints
from idp.web.i18n import LANGUAGE_COOKIE, Translator, negotiate_language
from idp.web.pages import render_page

logger = logging.getLogger("idp.errors")

_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


JSON_ONLY_PATHS = frozenset(
    {
        endpoints.TOKEN,
        endpoints.USERINFO,
        endpoints.INTROSPECTION,
        endpoints.REVOCATION,
        endpoints.JWKS,
        endpoints.DISCOVERY,
        endpoints.AUTHORIZATION_SERVER_METADATA,
        "/metrics",
        "/healthz",
        "/readyz",
        "/.well-known/openid-federation",
    }
)
"""Endpoints that machines call: their errors are JSON (RFC 6749 5.2, RFC 6750 3) whatever
the Accept header says."""


JSON_ONLY_PREFIXES = (
    "/signature/requests",
    "/signature/verify",
    "/federation/fetch",
    "/federation/list",
)
"""The signature API for relying parties and verifiers (``idp.signature.api_routes``), and a
Trust Anchor's federation fetch and list endpoints (``idp.federation.routes``)."""


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path in JSON_ONLY_PATHS or path.startswith(JSON_ONLY_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _language(request: Request) -> str:
    settings = request.app.state.provider.settings
    choice = request.query_params.get("lang")
    if choice in SUPPORTED_LANGUAGES:
        return choice
    return negotiate_language(
        ui_locales=request.query_params.get("ui_locales"),
        chosen=request.cookies.get(LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
        default=settings.default_language,
    )


def render_error(request: Request, error: ProviderError) -> Response:
    headers = {**_NO_STORE, **error.headers}
    if error.debug:
        logger.info("%s: %s", error.error, error.debug)
    if wants_html(request):
        language = _language(request)
        translate = Translator(language)
        key = f"error.{error.error}"
        message = translate(key)
        if message == key:
            message = translate("error.generic")
        html = render_page(
            request.app.state.templates,
            request=request,
            template="error.html",
            language=language,
            message=message,
            error_code=error.error,
        )
        return HTMLResponse(html, status_code=error.status_code, headers=headers)
    body = {"error": error.error, "error_description": error.description}
    return JSONResponse(body, status_code=error.status_code, headers=headers)


async def handle_provider_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProviderError)
    return render_error(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error: ProviderError
    if exc.status_code == 404:
        error = NotFound()
    elif exc.status_code == 405:
        error = MethodNotAllowed(headers=dict(exc.headers or {}))
    elif exc.status_code == 413:
        error = RequestTooLarge()
    elif 400 <= exc.status_code < 500:
        error = InvalidRequest(debug=str(exc.detail))
    else:
        logger.error("HTTP %s raised: %s", exc.status_code, exc.detail)
        error = ServerError()
    return render_error(request, error)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """Malformed parameters: name the parameters, never echo their values."""
    assert isinstance(exc, RequestValidationError)
    names = sorted({str(part) for err in exc.errors() for part in err.get("loc", ())[1:2] if part})
    description = (
        f"Invalid or missing parameter: {', '.join(names)}." if names else "Malformed request."
    )
    return render_error(request, InvalidRequest(description))


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("Unexpected error on %s %s", request.method, request.url.path)
    return render_error(request, ServerError())
