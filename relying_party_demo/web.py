"""What every page of the portal shares: the ``Portal`` (settings, the provider's client,
templates), the citizen's login and language kept in the signed session, and rendering with
the chosen language's catalog."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from relying_party_demo import explain, i18n
from relying_party_demo.config import PortalSettings


@dataclass(frozen=True, slots=True)
class Portal:
    """What every request handler needs: settings, the OIDC client, templates."""

    settings: PortalSettings
    provider: Any  # authlib's StarletteOAuth2App
    templates: Jinja2Templates


def get_portal(request: Request) -> Portal:
    return request.app.state.portal  # type: ignore[no-any-return]


PortalDep = Annotated[Portal, Depends(get_portal)]


# --- the session ---------------------------------------------------------------------------


def current_login(request: Request) -> dict[str, Any] | None:
    login = request.session.get("login")
    return login if isinstance(login, dict) else None


def current_level(login: dict[str, Any] | None) -> int | None:
    if login is None:
        return None
    level = explain.level_of_acr(login.get("claims", {}).get("acr"))
    return 0 if level is None else level


def language_of(request: Request, settings: PortalSettings) -> str:
    chosen = request.query_params.get("lang")
    language = i18n.negotiate(
        chosen=chosen,
        remembered=request.session.get("lang"),
        accept_language=request.headers.get("accept-language"),
        default=settings.language,
    )
    if chosen == language:
        request.session["lang"] = language
    return language


# --- CSRF ----------------------------------------------------------------------------------

CSRF_SESSION_KEY = "csrf"
CSRF_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """This session's anti-CSRF token (synchronizer token pattern), made on first use."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether a posted form carries this session's token; compared in constant time."""
    expected = request.session.get(CSRF_SESSION_KEY)
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )


# --- rendering -----------------------------------------------------------------------------


def render(
    portal: Portal, request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    language = language_of(request, portal.settings)
    login = current_login(request)
    flash = request.session.pop("flash", None)
    path = request.url.path
    options = [
        {
            "code": code,
            "name": name,
            "href": f"{path}?{urlencode({'lang': code})}",
            "current": code == language,
        }
        for code, name in i18n.LANGUAGE_NAMES.items()
    ]
    return portal.templates.TemplateResponse(
        request,
        template,
        {
            "t": i18n.Translator(language),
            "lang": language,
            "path": path,
            "language_options": options,
            "login": login,
            "flash": flash,
            "error_key": explain.error_key,
            "csrf_token": csrf_token(request),
            **context,
        },
        status_code=status_code,
    )


def error_page(
    portal: Portal, request: Request, *, title_key: str, message_key: str, status_code: int
) -> HTMLResponse:
    return render(
        portal,
        request,
        "error.html",
        status_code=status_code,
        title_key=title_key,
        message_key=message_key,
    )


def unreachable(portal: Portal, request: Request) -> HTMLResponse:
    return error_page(
        portal,
        request,
        title_key="error.unreachable.title",
        message_key="error.unreachable.text",
        status_code=503,
    )


def forged_form(portal: Portal, request: Request) -> HTMLResponse:
    """A form posted without this session's token: refused, nothing done."""
    return error_page(
        portal,
        request,
        title_key="error.csrf.title",
        message_key="error.csrf.text",
        status_code=403,
    )
