"""What a citizen-facing route knows about the browser: its session, language and CSRF token.

Cookies: the session cookie is HttpOnly and SameSite=Lax; with an https issuer it is also
Secure and carries the ``__Host-`` prefix (bound to this host and path /, RFC 6265bis 4.1.3.2).
Every page response is ``Cache-Control: no-store``: pages carry CSRF tokens and personal data.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from idp.accounts import sessions
from idp.assurance.methods import AuthMethod
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.config import SUPPORTED_LANGUAGES
from idp.context import ProviderContext
from idp.errors import CsrfFailed
from idp.storage import authorization as pending_store
from idp.storage.models import BrowserSession, Citizen
from idp.web.i18n import LANGUAGE_COOKIE, negotiate_language
from idp.web.pages import FormError, render_page
from idp.web.security_headers import flow_page_policy, form_action_source

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60


def session_cookie_name(*, https: bool) -> str:
    return "__Host-idp_session" if https else "idp_session"


_NOT_LOADED: Any = object()
"""The session row before the first look at it (``None`` means "no valid session")."""


@dataclass
class Browser:
    request: Request
    db: Session
    context: ProviderContext
    language: str
    _session_token: str | None = field(default=None, repr=False)
    _session: BrowserSession | None = field(default=_NOT_LOADED, repr=False)
    _issued_cookie: str | None = field(default=None, repr=False)
    _clear_cookie: bool = False
    _language_choice: str | None = None
    form_targets: list[str] = field(default_factory=list)
    """Origins this page's form may lead to through redirects (CSP ``form-action``)."""

    @classmethod
    def from_request(cls, request: Request, db: Session, context: ProviderContext) -> Browser:
        settings = context.settings
        choice = request.query_params.get("lang")
        choice = choice if choice in SUPPORTED_LANGUAGES else None
        language = choice or negotiate_language(
            ui_locales=request.query_params.get("ui_locales"),
            chosen=request.cookies.get(LANGUAGE_COOKIE),
            accept_language=request.headers.get("accept-language"),
            default=settings.default_language,
        )
        token = request.cookies.get(session_cookie_name(https=settings.uses_https))
        browser = cls(
            request=request, db=db, context=context, language=language, _session_token=token
        )
        browser._language_choice = choice
        return browser

    @property
    def session(self) -> BrowserSession | None:
        """The valid session the cookie names, read from the database at the first look.

        Lazily, so that building a ``Browser`` does no I/O: the dependency then runs on the
        event loop, and the read happens in the synchronous route's thread (one thread-pool hop
        per request instead of one more for the dependency)."""
        if self._session is _NOT_LOADED:
            row = sessions.load_session(
                self.db,
                token=self._session_token,
                timeouts=self.context.session_timeouts,
                now=self.context.clock(),
            )
            if self._session_token and row is None:
                self._clear_cookie = True  # a stale or forged cookie: remove it
            self._session = row
        return self._session

    @session.setter
    def session(self, row: BrowserSession | None) -> None:
        self._session = row

    @property
    def signed_in(self) -> bool:
        return self.session is not None and self.session.citizen_id is not None

    def ensure_session(self) -> BrowserSession:
        if self.session is None:
            token, row = sessions.start_session(
                self.db, timeouts=self.context.session_timeouts, now=self.context.clock()
            )
            self.session = row
            self._issued_cookie = token
            self._clear_cookie = False
        return self.session

    @property
    def csrf_token(self) -> str:
        return self.ensure_session().csrf_token

    def check_csrf(self, submitted: str | None) -> None:
        """Refuse a form that does not carry this session's CSRF token (synchronizer token)."""
        expected = self.session.csrf_token if self.session is not None else None
        if (
            not expected
            or not submitted
            or not hmac.compare_digest(expected.encode(), submitted.encode())
        ):
            raise CsrfFailed()

    def allow_form_target(self, uri: str) -> None:
        """Let this page's form lead (through redirects) to ``uri``'s origin."""
        self.form_targets.append(form_action_source(uri))

    def sign_in(self, citizen: Citizen, *, method: AuthMethod = AuthMethod.PASSWORD) -> None:
        """Authenticate the session (rotating its id). A different citizen than before gets a
        new OIDC ``sid``: grants of the previous citizen must not follow the new one."""
        row = self.ensure_session()
        if row.sid is None or (row.citizen_id is not None and row.citizen_id != citizen.id):
            row.sid = secrets.token_urlsafe(24)
        self._issued_cookie = sessions.authenticate_session(
            self.db,
            row=row,
            citizen=citizen,
            method=method,
            timeouts=self.context.session_timeouts,
            now=self.context.clock(),
        )
        self._audit(AuditEvent.LOGIN_SUCCEEDED, citizen.id, method)

    def elevate(self, method: AuthMethod) -> None:
        """Record a step-up method proven just now on the signed-in session (rotating its id,
        like a login)."""
        if self.session is None or self.session.citizen_id is None:
            raise ValueError("elevate() needs a signed-in session")
        self._issued_cookie = sessions.elevate_session(
            self.db, row=self.session, method=method, now=self.context.clock()
        )
        self._audit(AuditEvent.STEP_UP, self.session.citizen_id, method)

    def _audit(self, event: str, citizen_id: int, method: AuthMethod) -> None:
        client = self.request.client
        audit_log.append(
            self.db,
            event=event,
            actor=f"citizen:{citizen_id}",
            now=self.context.clock(),
            citizen_id=citizen_id,
            details={"method": method.value, "address": client.host if client else None},
        )

    def sign_out(self) -> None:
        if self.session is not None:
            sessions.end_session(self.db, row=self.session)
            self.session = None
        self._issued_cookie = None
        self._clear_cookie = True

    def render(
        self,
        template: str,
        *,
        status_code: int = 200,
        errors: list[FormError] | None = None,
        headers: dict[str, str] | None = None,
        with_csrf: bool = True,
        **context: Any,
    ) -> HTMLResponse:
        html = render_page(
            self.request.app.state.templates,
            request=self.request,
            template=template,
            language=self.language,
            csrf_token=self.csrf_token if with_csrf else None,
            errors=errors,
            **context,
        )
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        targets = self.form_targets + self._pending_request_targets(context.get("request_id"))
        if targets and "content-security-policy" not in response.headers:
            response.headers["content-security-policy"] = flow_page_policy(targets)
        return self.finish(response)

    def _pending_request_targets(self, request_id: object) -> list[str]:
        """The client origin of this session's pending authorization request, when the page
        belongs to one (its form's submission ends with a redirect to that client)."""
        if not isinstance(request_id, str) or self.session is None:
            return []
        row = pending_store.get_request(self.db, request_id=request_id)
        if row is None or row.browser_session_id != self.session.id:
            return []
        request = row.parameters.get("request") if isinstance(row.parameters, dict) else None
        redirect_uri = request.get("redirect_uri") if isinstance(request, dict) else None
        return [form_action_source(redirect_uri)] if isinstance(redirect_uri, str) else []

    def redirect(self, url: str, *, status_code: int = 303) -> RedirectResponse:
        return self.finish(RedirectResponse(url, status_code=status_code))  # type: ignore[return-value]

    def finish(self, response: Response) -> Response:
        """Attach the cookies this request decided on, and forbid caching."""
        https = self.context.settings.uses_https
        name = session_cookie_name(https=https)
        _ = self.session  # a stale cookie is found (and cleared) even if the route never looked
        if self._issued_cookie is not None:
            response.set_cookie(
                name, self._issued_cookie, path="/", secure=https, httponly=True, samesite="lax"
            )
        elif self._clear_cookie:
            response.delete_cookie(name, path="/", secure=https, httponly=True, samesite="lax")
        if self._language_choice is not None:
            response.set_cookie(
                LANGUAGE_COOKIE,
                self._language_choice,
                max_age=LANGUAGE_COOKIE_MAX_AGE,
                path="/",
                secure=https,
                httponly=True,
                samesite="lax",
            )
        response.headers["cache-control"] = "no-store"
        response.headers.setdefault("vary", "Cookie, Accept-Language")
        return response
