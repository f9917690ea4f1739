"""One error family for the whole provider.

Every error a client or citizen can cause is a ``ProviderError`` subclass that carries the fields
it sends: the OAuth ``error`` code, the HTTP status, and whether it may be redirected back to a
client (an error about the client or its redirect URI never is: no open redirector). The
description is safe to show; ``debug`` detail goes to the log only. ``idp.web.error_pages`` is
the one place that renders them (JSON for API callers, a page in the citizen's language for
browsers).

Codes: RFC 6749 sections 4.1.2.1 and 5.2, RFC 6750 section 3.1, OIDC Core section 3.1.2.6.
"""

from __future__ import annotations

from typing import ClassVar


class ProviderError(Exception):
    """Base of every error that is shown to a client or a citizen."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500
    redirectable: ClassVar[bool] = False
    default_description: ClassVar[str] = "The server could not complete the request."

    def __init__(
        self,
        description: str | None = None,
        *,
        debug: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.description = description or self.default_description
        self.debug = debug
        self.headers = headers or {}
        super().__init__(self.description)


# RFC 6749 ------------------------------------------------------------------------------------
class InvalidRequest(ProviderError):
    """RFC 6749: the request is missing a parameter, has an invalid value, or is malformed."""

    error = "invalid_request"
    status_code = 400
    redirectable = True
    default_description = "The request is missing a required parameter or is malformed."


class InvalidClient(ProviderError):
    """RFC 6749 5.2: client authentication failed (unknown client, no or bad credentials)."""

    error = "invalid_client"
    status_code = 401
    default_description = "Client authentication failed."


class InvalidGrant(ProviderError):
    """RFC 6749 5.2: the grant or refresh token is invalid, expired, revoked or not yours."""

    error = "invalid_grant"
    status_code = 400
    default_description = "The authorization grant is invalid, expired or revoked."


class UnauthorizedClient(ProviderError):
    """RFC 6749: the client is not allowed to use this grant or response type."""

    error = "unauthorized_client"
    status_code = 400
    redirectable = True


class UnsupportedGrantType(ProviderError):
    error = "unsupported_grant_type"
    status_code = 400


class UnsupportedResponseType(ProviderError):
    error = "unsupported_response_type"
    status_code = 400
    redirectable = True


class InvalidScope(ProviderError):
    error = "invalid_scope"
    status_code = 400
    redirectable = True


class AccessDenied(ProviderError):
    """RFC 6749 4.1.2.1: the resource owner or the server denied the request."""

    error = "access_denied"
    status_code = 403
    redirectable = True
    default_description = "The request was denied."


class ServerError(ProviderError):
    """An unexpected condition; its cause is logged, never shown."""


class TemporarilyUnavailable(ProviderError):
    error = "temporarily_unavailable"
    status_code = 503
    redirectable = True
    default_description = "The service is temporarily overloaded; try again shortly."


# OIDC Core 3.1.2.6 ---------------------------------------------------------------------------
class LoginRequired(ProviderError):
    error = "login_required"
    status_code = 400
    redirectable = True


class UnmetAuthenticationRequirements(ProviderError):
    """OpenID Connect Core Unmet Authentication Requirements 1.0: the request asked for an
    assurance level the account cannot reach (its identity verification is too low)."""

    error = "unmet_authentication_requirements"
    status_code = 400
    redirectable = True


class ConsentRequired(ProviderError):
    error = "consent_required"
    status_code = 400
    redirectable = True


class InteractionRequired(ProviderError):
    error = "interaction_required"
    status_code = 400
    redirectable = True


# RFC 6750 ------------------------------------------------------------------------------------
class InvalidToken(ProviderError):
    error = "invalid_token"
    status_code = 401
    default_description = "The access token is invalid, expired or revoked."


# Browser-facing errors (not OAuth codes, never redirected) -------------------------------------
class CsrfFailed(ProviderError):
    """A form arrived without the CSRF token of this browser's session."""

    error = "csrf_failed"
    status_code = 403
    default_description = "The form could not be verified. Reload the page and try again."


class NotFound(ProviderError):
    error = "not_found"
    status_code = 404
    default_description = "The page does not exist."


class MethodNotAllowed(ProviderError):
    error = "method_not_allowed"
    status_code = 405
    default_description = "This method is not allowed here."


class RequestTooLarge(ProviderError):
    error = "request_too_large"
    status_code = 413
    default_description = "The request is too large."
