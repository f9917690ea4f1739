"""The portal's web application: ``create_app(settings)`` mounts everything here.

Pages: home, ``/login`` (``?level=N`` asks for assurance level N through ``acr_values``),
``/callback``, ``/perfil`` (the claims received, with ``acr`` and ``amr`` in plain language),
``/tramite`` (a procedure that needs level 2, with a step-up button), ``/logout``
(RP-Initiated Logout 1.0), and ``/firma`` (a sworn statement signed through the provider's
signature service: ``relying_party_demo.signing_pages``). Everything OpenID Connect goes
through ``relying_party_demo.oidc``; shared page helpers are in ``relying_party_demo.web``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from joserfc.errors import JoseError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from relying_party_demo import explain, signing_pages
from relying_party_demo.config import PortalSettings
from relying_party_demo.keys import ClientKey, load_client_key, session_secret
from relying_party_demo.oidc import MismatchingStateError, OAuthError, build_oauth
from relying_party_demo.web import (
    Portal,
    PortalDep,
    csrf_ok,
    current_level,
    current_login,
    error_page,
    forged_form,
    get_portal,
    language_of,
    render,
    unreachable,
)

log = logging.getLogger("relying_party_demo")

PACKAGE_DIR = Path(__file__).parent
SESSION_COOKIE = "tramites_session"
SESSION_MAX_AGE_SECONDS = 8 * 3600
PROCEDURE_LEVEL = 2
"""The assurance level the demo procedure needs."""

HOME, PROFILE, PROCEDURE, LOGIN, CALLBACK, LOGOUT = (
    "/",
    "/perfil",
    "/tramite",
    "/login",
    "/callback",
    "/logout",
)
DESTINATIONS = frozenset({HOME, PROFILE, PROCEDURE, signing_pages.SIGN})
"""Where the portal may send a citizen after login: never a URL taken from the request."""

TECHNICAL_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "sid",
    "at_hash",
    "c_hash",
    "jti",
)


TIME_CLAIMS = frozenset({"exp", "iat", "auth_time", "updated_at"})
"""Claims that carry seconds since 1970 (OIDC Core 2, 5.1); shown also as a UTC date."""


@dataclass(frozen=True, slots=True)
class Shown:
    """A claim as the claims page shows it: name, the value as received, and a reading."""

    name: str
    value: Any
    reading: str | None = None
    """A translation key (``value.yes``/``value.no``) or a formatted UTC date."""
    reading_is_key: bool = False


def shown(name: str, value: Any) -> Shown:
    if isinstance(value, bool):
        return Shown(name, value, "value.yes" if value else "value.no", reading_is_key=True)
    if name in TIME_CLAIMS and isinstance(value, int):
        moment = datetime.fromtimestamp(value, tz=UTC)
        return Shown(name, value, moment.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return Shown(name, value)


# --- routes --------------------------------------------------------------------------------


def parse_level(raw: str | None) -> int | None:
    """``?level=N``: an assurance level 1..3, or None (no requirement, or not a level)."""
    if raw is None or not raw.isdigit():
        return None
    level = int(raw)
    return level if 1 <= level <= 3 else None


def add_routes(app: FastAPI) -> None:
    @app.get(HOME, response_class=HTMLResponse)
    async def home(request: Request, portal: PortalDep) -> Response:
        signed_out = False
        if request.query_params.get("state"):
            try:  # back from the provider's end_session_endpoint (RP-Initiated Logout 3)
                await portal.provider.validate_logout_response(request)
                signed_out = True
            except OAuthError:
                signed_out = False
        return render(portal, request, "home.html", signed_out=signed_out)

    @app.get(LOGIN)
    async def login(request: Request, portal: PortalDep) -> Response:
        level = parse_level(request.query_params.get("level"))
        destination = request.query_params.get("next")
        language = language_of(request, portal.settings)
        extra: dict[str, str] = {"ui_locales": language}
        try:
            if level is not None:
                metadata = await portal.provider.load_server_metadata()
                extra["acr_values"] = explain.acr_value_for_level(
                    level, metadata.get("acr_values_supported")
                )
            response = await portal.provider.authorize_redirect(
                request, portal.settings.redirect_uri, **extra
            )
        except (httpx.HTTPError, ValueError):
            log.warning("the provider's discovery document could not be read", exc_info=True)
            return unreachable(portal, request)
        request.session["next"] = destination if destination in DESTINATIONS else PROFILE
        return response

    @app.get(CALLBACK)
    async def callback(request: Request, portal: PortalDep) -> Response:
        """The authorization response (RFC 6749 4.1.2): check ``state`` and ``iss`` first,
        then either an error to explain or a code to exchange."""
        query = request.query_params
        provider = portal.provider
        state = query.get("state")
        state_data = (
            await provider.framework.get_state_data(request.session, state) if state else None
        )
        if state_data is None:
            return error_page(
                portal,
                request,
                title_key="error.bad_state.title",
                message_key="error.bad_state.text",
                status_code=400,
            )
        try:
            metadata = await provider.load_server_metadata()
        except httpx.HTTPError:
            return unreachable(portal, request)
        issuer = query.get("iss")
        if issuer is not None and issuer != metadata.get("issuer"):  # RFC 9207 2.4
            await provider.framework.clear_state_data(request.session, state)
            return error_page(
                portal,
                request,
                title_key="error.bad_state.title",
                message_key="error.wrong_issuer",
                status_code=400,
            )
        destination = request.session.pop("next", PROFILE)
        if "error" in query:
            await provider.framework.clear_state_data(request.session, state)
            request.session["flash"] = {
                "error": query["error"][:100],
                "description": query.get("error_description", "")[:300],
            }
            return RedirectResponse(destination, status_code=303)
        try:
            token = await provider.authorize_access_token(request)
        except MismatchingStateError:
            return error_page(
                portal,
                request,
                title_key="error.bad_state.title",
                message_key="error.bad_state.text",
                status_code=400,
            )
        except (OAuthError, JoseError, KeyError, ValueError) as exc:
            log.warning("the provider's token response was refused: %r", exc)
            return error_page(
                portal,
                request,
                title_key="error.token.title",
                message_key="error.token.text",
                status_code=502,
            )
        except httpx.HTTPError:
            return unreachable(portal, request)
        userinfo: dict[str, Any] = {}
        try:
            userinfo = dict(await provider.userinfo(token=token))
        except (httpx.HTTPError, OAuthError, ValueError) as exc:
            log.warning("UserInfo could not be read: %r", exc)
        claims = dict(token["userinfo"])
        if userinfo.get("sub") not in (None, claims.get("sub")):  # OIDC Core 5.3.2
            userinfo = {}
        language = request.session.get("lang")
        request.session.clear()  # a fresh session for the signed-in citizen
        if language:
            request.session["lang"] = language
        request.session["login"] = {
            "id_token": token["id_token"],
            "claims": claims,
            "userinfo": userinfo,
        }
        return RedirectResponse(destination, status_code=303)

    @app.get(PROFILE, response_class=HTMLResponse)
    async def profile(request: Request, portal: PortalDep) -> Response:
        login = current_login(request)
        if login is None:
            return render(portal, request, "signed_out.html", destination=PROFILE)
        claims = login["claims"]
        personal = [
            shown(name, value)
            for name, value in {**claims, **login.get("userinfo", {})}.items()
            if name not in TECHNICAL_CLAIMS
        ]
        technical = [shown(name, claims[name]) for name in TECHNICAL_CLAIMS if name in claims]
        return render(
            portal,
            request,
            "profile.html",
            personal=personal,
            technical=technical,
            acr=explain.explain_acr(claims.get("acr")),
            amr=explain.explain_amr(claims.get("amr")),
            level=current_level(login),
        )

    @app.get(PROCEDURE, response_class=HTMLResponse)
    async def procedure(request: Request, portal: PortalDep) -> Response:
        login = current_login(request)
        return render(
            portal,
            request,
            "procedure.html",
            required=PROCEDURE_LEVEL,
            level=current_level(login),
        )

    @app.get(LOGOUT, response_class=HTMLResponse)
    async def logout_page(request: Request, portal: PortalDep) -> Response:
        return render(portal, request, "logout.html")

    @app.post(LOGOUT)
    async def logout(
        request: Request,
        portal: PortalDep,
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        """RP-Initiated Logout 1.0 section 2: the local session ends here, then the provider's
        session through its end_session_endpoint; it sends the citizen back to the home page
        with the ``state`` the portal keeps in the (new) session. A signed-in session's post
        without its CSRF token (another site's form) changes nothing."""
        login = current_login(request)
        if login is None:
            return RedirectResponse(HOME, status_code=303)
        if not csrf_ok(request, csrf_token):
            return forged_form(portal, request)
        language = request.session.get("lang")
        request.session.clear()
        if language:
            request.session["lang"] = language
        try:
            redirect = await portal.provider.logout_redirect(
                request,
                post_logout_redirect_uri=portal.settings.post_logout_redirect_uri,
                id_token_hint=login["id_token"],
                ui_locales=language or portal.settings.language,
            )
        except (httpx.HTTPError, RuntimeError):
            log.warning("the provider's end_session_endpoint is unknown", exc_info=True)
            return RedirectResponse(HOME, status_code=303)
        return RedirectResponse(redirect.headers["location"], status_code=303)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        portal = get_portal(request)
        if exc.status_code == 404:
            return error_page(
                portal,
                request,
                title_key="error.not_found.title",
                message_key="error.not_found.text",
                status_code=404,
            )
        return error_page(
            portal,
            request,
            title_key="error.generic.title",
            message_key="error.generic.text",
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return HTMLResponse(
            "<!DOCTYPE html><html lang='es'><head><meta charset='utf-8'><title>Error</title>"
            "</head><body><main><h1>Algo salió mal / Something went wrong</h1>"
            "<p>Intente de nuevo más tarde. / Please try again later.</p>"
            "<p><a href='/'>Inicio / Home</a></p></main></body></html>",
            status_code=500,
        )


def security_headers(
    settings: PortalSettings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    provider = urlsplit(settings.issuer)
    provider_origin = f"{provider.scheme}://{provider.netloc}"
    policy = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"form-action 'self' {provider_origin}; frame-ancestors 'none'"
    )

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("content-security-policy", policy)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        if not request.url.path.startswith("/static/"):
            response.headers["cache-control"] = "no-store"
        return response

    return middleware


def create_app(settings: PortalSettings, *, client_key: ClientKey | None = None) -> FastAPI:
    """The portal; ``client_key`` defaults to the key file (created in development)."""
    key = client_key or load_client_key(settings)
    app = FastAPI(title="Portal de trámites", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = Portal(
        settings=settings,
        provider=build_oauth(settings, key),
        templates=Jinja2Templates(directory=PACKAGE_DIR / "templates"),
    )
    add_routes(app)
    signing_pages.add_routes(app)
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    app.middleware("http")(security_headers(settings))
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_SECONDS,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    return app


def create_app_from_environment() -> FastAPI:
    """For ``uvicorn --factory``: settings from ``RP_*`` variables."""
    from relying_party_demo.config import load_portal_settings

    return create_app(load_portal_settings())
