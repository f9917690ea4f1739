"""``create_app(settings)``: the only place where routers and middleware are mounted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from idp import __version__
from idp.accounts.account_pages import router as account_pages_router
from idp.accounts.routes import router as accounts_router
from idp.assurance.card_routes import router as card_router
from idp.assurance.enrolment_routes import router as enrolment_router
from idp.assurance.totp_routes import router as totp_router
from idp.config import Settings, load_settings
from idp.context import ProviderContext
from idp.errors import ProviderError
from idp.federation import routes as federation_routes
from idp.federation.crossborder import routes as crossborder_routes
from idp.oidc.backchannel import running_backchannel_worker
from idp.oidc.routers import (
    authorize,
    discovery,
    introspection,
    logout,
    revocation,
    token,
    userinfo,
)
from idp.ops import install_operations
from idp.signature import api_routes as signature_api
from idp.signature import pages as signature_pages
from idp.startup import run_startup_checks
from idp.storage.database import Database
from idp.web import error_pages
from idp.web.body_limit import BodyLimitMiddleware
from idp.web.pages import create_template_environment
from idp.web.security_headers import SecurityHeadersMiddleware


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    startup_checks: bool = True,
) -> FastAPI:
    """Build the provider. With ``startup_checks`` it refuses a stale schema or unusable keys."""
    context = ProviderContext.from_settings(settings, database=database)
    if startup_checks:
        run_startup_checks(context)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running_backchannel_worker(context):
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="National digital identity provider",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # The provider reports through its own Prometheus metrics and JSON logs
        # (docs/operations/observability.md); FastAPI's OpenTelemetry layer would otherwise
        # look for configured providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.provider = context
    app.state.templates = create_template_environment()

    app.add_exception_handler(ProviderError, error_pages.handle_provider_error)
    app.add_exception_handler(StarletteHTTPException, error_pages.handle_http_exception)
    app.add_exception_handler(RequestValidationError, error_pages.handle_validation_error)
    app.add_exception_handler(Exception, error_pages.handle_unexpected_error)

    # The protocol endpoints first: they take most requests, and matching walks the routes in
    # order (no path of the pages below overlaps with theirs).
    for protocol_router in (
        discovery.router,
        authorize.router,
        token.router,
        userinfo.router,
        introspection.router,
        revocation.router,
        logout.router,
    ):
        app.include_router(protocol_router)
    app.include_router(accounts_router)
    app.include_router(account_pages_router)
    app.include_router(enrolment_router)
    app.include_router(totp_router)
    app.include_router(card_router)
    app.include_router(signature_pages.router)
    app.include_router(signature_api.router)
    app.include_router(federation_routes.router)
    app.include_router(crossborder_routes.router)
    app.mount("/static", StaticFiles(packages=[("idp.web", "static")]), name="static")

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    install_operations(app, context)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.uses_https)
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (``idp serve``): settings from ``IDP_*``."""
    return create_app(load_settings())
