"""Authorization endpoint rules: OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636 (PKCE), RFC 9207
(``iss`` in every response), RFC 9700, OAuth 2.0 Form Post Response Mode.

``validate_request`` runs the checks in the order that decides where an error may go: until
the client and its redirect URI are known good, errors are shown as a page
(``AuthorizationPageError``), never redirected (no open redirector); after that they are sent
back to the client (``AuthorizationRedirect``) with ``state`` and ``iss``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from idp.errors import (
    InvalidRequest,
    InvalidScope,
    ProviderError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from idp.oidc.claims import ClaimsRequestError, parse_claims_parameter
from idp.oidc.clients import GrantType, redirect_uri_matches
from idp.storage.models import OAuthClient

MAX_STATE_LENGTH = 2048
MAX_PARAMETER_LENGTH = 4096
PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})
RESPONSE_MODES = frozenset({"query", "form_post"})


class RequestNotSupported(ProviderError):
    """OIDC Core 6: we do not accept request objects."""

    error = "request_not_supported"
    status_code = 400
    redirectable = True
    default_description = "Request objects are not supported."


class RequestUriNotSupported(ProviderError):
    error = "request_uri_not_supported"
    status_code = 400
    redirectable = True
    default_description = "request_uri is not supported."


class AuthorizationPageError(ProviderError):
    """An error about the client or its redirect URI: shown to the citizen, never redirected."""

    error = "invalid_request"
    status_code = 400
    redirectable = False


class AuthorizationRedirect(Exception):
    """An error answered by redirecting to the client's (validated) redirect URI."""

    def __init__(
        self, error: ProviderError, *, redirect_uri: str, state: str | None, response_mode: str
    ) -> None:
        super().__init__(error.error)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state
        self.response_mode = response_mode


@dataclass(frozen=True)
class ValidatedRequest:
    """Everything the rest of the flow needs, JSON-serialisable for the pending request row."""

    client_id: str
    redirect_uri: str
    response_mode: str
    scopes: list[str]
    code_challenge: str
    state: str | None = None
    nonce: str | None = None
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    ui_locales: str | None = None
    login_hint: str | None = None
    acr_values: str | None = None
    id_token_hint: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ValidatedRequest:
        return cls(
            **{name: document[name] for name in cls.__dataclass_fields__ if name in document}
        )

    def claim_names(self) -> list[str]:
        names: set[str] = set()
        for member in ("id_token", "userinfo"):
            names.update((self.claims.get(member) or {}).keys())
        return sorted(names)


def single_valued(items: list[tuple[str, str]]) -> tuple[dict[str, str], set[str]]:
    """Parameters as a dict, and the names that were sent more than once (RFC 6749 3.1)."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in items:
        if name in values:
            repeated.add(name)
        values[name] = value
    return values, repeated


def check_client_and_redirect_uri(
    params: dict[str, str], repeated: set[str], client: OAuthClient | None
) -> tuple[OAuthClient, str]:
    if "client_id" in repeated or "redirect_uri" in repeated:
        raise AuthorizationPageError("client_id and redirect_uri must be sent once.")
    if client is None:
        raise AuthorizationPageError("The client is not registered with this provider.")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise AuthorizationPageError("The redirect_uri parameter is missing.")
    if not redirect_uri_matches(client.redirect_uris, redirect_uri, client.application_type):
        raise AuthorizationPageError("The redirect_uri is not registered for this client.")
    state = params.get("state")
    if state is not None and len(state) > MAX_STATE_LENGTH:
        # Echoing an oversized state back would build an unusable redirect: show a page.
        raise AuthorizationPageError(f"The state parameter is longer than {MAX_STATE_LENGTH}.")
    return client, redirect_uri


def validate_request(
    params: dict[str, str], repeated: set[str], client: OAuthClient | None
) -> ValidatedRequest:
    """Validate an authorization request; raise ``AuthorizationPageError`` or
    ``AuthorizationRedirect``."""
    client, redirect_uri = check_client_and_redirect_uri(params, repeated, client)
    state = params.get("state")
    response_mode = params.get("response_mode") or "query"
    mode_for_errors = response_mode if response_mode in RESPONSE_MODES else "query"

    def refuse(error: ProviderError) -> AuthorizationRedirect:
        return AuthorizationRedirect(
            error, redirect_uri=redirect_uri, state=state, response_mode=mode_for_errors
        )

    if repeated:
        raise refuse(InvalidRequest(f"Repeated parameter: {', '.join(sorted(repeated))}."))
    if any(len(value) > MAX_PARAMETER_LENGTH for value in params.values()):
        raise refuse(InvalidRequest("A parameter is too long."))
    if response_mode not in RESPONSE_MODES:
        raise refuse(InvalidRequest("response_mode must be query or form_post."))
    if "request" in params:
        raise refuse(RequestNotSupported())
    if "request_uri" in params:
        raise refuse(RequestUriNotSupported())
    response_type = params.get("response_type")
    if not response_type:
        raise refuse(InvalidRequest("The response_type parameter is missing."))
    if response_type != "code":
        raise refuse(UnsupportedResponseType("Only response_type=code is supported."))
    if GrantType.AUTHORIZATION_CODE not in client.grant_types:
        raise refuse(UnauthorizedClient("This client may not use the authorization code flow."))
    scopes = list(dict.fromkeys((params.get("scope") or "").split()))
    if "openid" not in scopes:
        raise refuse(InvalidScope("The scope must include openid."))
    unknown = [scope for scope in scopes if scope not in client.scopes]
    if unknown:
        raise refuse(InvalidScope(f"Scope not allowed for this client: {' '.join(unknown)}."))
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if not challenge:
        raise refuse(InvalidRequest("PKCE is required: code_challenge is missing."))
    if method != "S256":
        raise refuse(InvalidRequest("code_challenge_method must be S256."))
    if not PKCE_CHALLENGE.fullmatch(challenge):
        raise refuse(InvalidRequest("code_challenge must be 43 to 128 unreserved characters."))
    prompt = (params.get("prompt") or "").split()
    if any(value not in PROMPT_VALUES for value in prompt):
        raise refuse(InvalidRequest("Unknown prompt value."))
    if "none" in prompt and len(prompt) > 1:
        raise refuse(InvalidRequest("prompt=none cannot be combined with other values."))
    max_age: int | None = None
    if "max_age" in params:
        raw = params["max_age"]
        if not raw.isdigit() or len(raw) > 10:
            raise refuse(InvalidRequest("max_age must be a non-negative integer."))
        max_age = int(raw)
    try:
        claims = parse_claims_parameter(params.get("claims")).to_json()
    except ClaimsRequestError as exc:
        raise refuse(InvalidRequest(str(exc))) from None
    return ValidatedRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        response_mode=response_mode,
        scopes=scopes,
        code_challenge=challenge,
        state=state,
        nonce=params.get("nonce"),
        prompt=prompt,
        max_age=max_age,
        ui_locales=params.get("ui_locales"),
        login_hint=params.get("login_hint"),
        acr_values=params.get("acr_values"),
        id_token_hint=params.get("id_token_hint"),
        claims=claims,
    )


def redirect_with(redirect_uri: str, parameters: dict[str, str]) -> str:
    """The redirect URI with response parameters added to its own query (RFC 6749 3.1.2)."""
    parts = urlsplit(redirect_uri)
    query = urlencode(parameters)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def error_parameters(error: ProviderError, *, state: str | None, issuer: str) -> dict[str, str]:
    parameters = {"error": error.error, "error_description": error.description}
    if state is not None:
        parameters["state"] = state
    parameters["iss"] = issuer
    return parameters
