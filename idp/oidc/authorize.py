"""Authorization endpoint rules: OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636 (PKCE), RFC 9207
(``iss`` in every response), RFC 9700, OAuth 2.0 Form Post Response Mode.

``validate_request`` is an ordered list of small checks, and the order decides where an error
may go:

1. ``check_client_known`` and ``check_redirect_uri``: until the client and its redirect URI are
   known good, an error is shown to the citizen as a page (``AuthorizationPageError``, HTTP 400)
   and never redirected, so the endpoint is not an open redirector (RFC 9700 4.11.2).
   ``check_state_size`` also answers with a page: see its docstring.
2. Every later check raises ``AuthorizationRedirect``: the error goes back to the validated
   redirect URI with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 6749 4.1.2.1,
   RFC 9207 2), in the response mode the client asked for.

A signed request object (``request``, OIDC Core 6.1, RFC 9101) is opened right after the client
is known (``request_object_parameters``; verification in ``idp.oidc.request_object``): from
then on only its parameters are used (RFC 9101 6.3). An invalid one is
``invalid_request_object``, redirected only to a ``redirect_uri`` of the query that is
registered for the client, else shown as a page.

Nothing here touches the web framework or the database: the router feeds in the parameters and
the client row and turns the outcome into a response. The decisions about logins
(``login_is_stale``, ``fresh_login_done``) are pure functions of explicit inputs, ``now``
included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from idp.errors import (
    InvalidRequest,
    InvalidScope,
    ProviderError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from idp.oidc.claims import (
    MAX_CLAIMS_PARAMETER_LENGTH,
    ClaimsRequest,
    ClaimsRequestError,
    claims_request_from_json,
    parse_claims_parameter,
)
from idp.oidc.clients import SERVICE_SCOPES, GrantType, redirect_uri_matches
from idp.oidc.jose import MAX_TOKEN_LENGTH
from idp.oidc.request_object import InvalidRequestObject
from idp.storage.models import OAuthClient, RegistrationType

MAX_STATE_LENGTH = 2048
MAX_PARAMETER_LENGTH = 4096
"""Longest value accepted for a known parameter, except those listed in ``LENGTH_LIMITS``."""
LENGTH_LIMITS = {
    "state": MAX_STATE_LENGTH,
    "claims": MAX_CLAIMS_PARAMETER_LENGTH,
    "id_token_hint": MAX_TOKEN_LENGTH,
    "request": MAX_TOKEN_LENGTH,
}
KNOWN_PARAMETERS = frozenset(
    {
        "client_id",
        "redirect_uri",
        "response_type",
        "response_mode",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "ui_locales",
        "login_hint",
        "acr_values",
        "id_token_hint",
        "claims",
        "request",
        "request_uri",
        "display",
        "claims_locales",
    }
)
CLIENT_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
MAX_AGE_PATTERN = re.compile(r"[0-9]{1,10}")
PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})
RESPONSE_MODES = frozenset({"query", "form_post"})
DEFAULT_RESPONSE_MODE = "query"
REQUEST_OBJECT_PARAMETERS = KNOWN_PARAMETERS - {"request", "request_uri"}
"""The authorization request parameters a request object may carry (RFC 9101 4)."""

RequestObjectOpener = Callable[[str, OAuthClient], dict[str, Any]]
"""Verifies a request object of the client and returns its claims, or raises
``InvalidRequestObject`` (``idp.oidc.request_object.RequestObjectOpener``)."""


# --- errors -----------------------------------------------------------------------------------


class RequestUriNotSupported(ProviderError):
    """OIDC Core 3.1.2.6: the OP does not support the ``request_uri`` parameter (OIDC Core
    6.2)."""

    error = "request_uri_not_supported"
    status_code = 400
    redirectable = True
    default_description = "The request_uri parameter is not supported."


class AuthorizationPageError(ProviderError):
    """An error about the client or its redirect URI (RFC 6749 4.1.2.1: "the authorization
    server SHOULD inform the resource owner of the error and MUST NOT automatically redirect
    the user-agent to the invalid redirection URI"): shown as a page, never redirected."""

    error = "invalid_request"
    status_code = 400
    redirectable = False


class RequestObjectPageError(AuthorizationPageError):
    """An invalid request object when no registered redirect URI is known to answer to (the
    one inside the object cannot be trusted): shown as a page."""

    error = "invalid_request_object"
    default_description = "The request object is not valid."


class AuthorizationRequestInvalid(ProviderError):
    """A pending authorization request (``request_id`` of the login and consent pages) that
    is unknown, expired, finished, or belongs to another browser: a page asking the citizen to
    start again at the service. Never redirected: without a valid request there is no
    validated redirect URI to send it to."""

    error = "authorization_request_invalid"
    status_code = 400
    redirectable = False
    default_description = "This authorization request is unknown or has expired."


@dataclass(frozen=True, slots=True)
class Destination:
    """Where and how an authorization response goes: a validated redirect URI, the response
    mode, the client's ``state`` to echo and its name for the form_post page."""

    redirect_uri: str
    response_mode: str
    state: str | None
    client_name: str


class AuthorizationRedirect(Exception):
    """An error answered by sending it to the client's validated redirect URI."""

    def __init__(self, error: ProviderError, *, destination: Destination) -> None:
        super().__init__(error.error)
        self.error = error
        self.destination = destination


# --- the validated request --------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedRequest:
    """Everything the rest of the flow needs; JSON-serialisable for the pending request row."""

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
    """``ClaimsRequest.to_json()`` of the ``claims`` parameter (OIDC Core 5.5)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ValidatedRequest:
        return cls(
            **{name: document[name] for name in cls.__dataclass_fields__ if name in document}
        )

    def claims_request(self) -> ClaimsRequest:
        return claims_request_from_json(self.claims)

    def claim_names(self) -> list[str]:
        """Claims requested individually, in the ID token or at UserInfo (OIDC Core 5.5)."""
        request = self.claims_request()
        return sorted(set(request.id_token) | set(request.userinfo))

    def destination(self, client_name: str) -> Destination:
        return Destination(
            redirect_uri=self.redirect_uri,
            response_mode=self.response_mode,
            state=self.state,
            client_name=client_name,
        )


@dataclass(frozen=True)
class PendingAuthorization:
    """What is stored in ``AuthorizationRequest.parameters`` while the citizen logs in or
    consents: the validated request, whether it demanded a login made after it
    (``prompt=login``, ``max_age``, no session, another subject in ``id_token_hint``), and when
    it was made."""

    request: ValidatedRequest
    login_required: bool
    requested_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.to_json(),
            "login_required": self.login_required,
            "requested_at": self.requested_at.isoformat(),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> PendingAuthorization:
        """Raise ``ValueError`` (never ``KeyError``/``TypeError``) on a malformed document."""
        try:
            return cls(
                request=ValidatedRequest.from_json(document["request"]),
                login_required=bool(document["login_required"]),
                requested_at=datetime.fromisoformat(document["requested_at"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed pending authorization: {exc}") from None


# --- parameters -------------------------------------------------------------------------------


def single_valued(items: list[tuple[str, str]]) -> tuple[dict[str, str], set[str]]:
    """Parameters as a dict, and the names sent more than once (RFC 6749 3.1: "Request and
    response parameters MUST NOT be included more than once")."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in items:
        if name in values:
            repeated.add(name)
        values[name] = value
    return values, repeated


def without_empty_values(params: dict[str, str]) -> dict[str, str]:
    """RFC 6749 3.1: "Parameters sent without a value MUST be treated as if they were omitted
    from the request"."""
    return {name: value for name, value in params.items() if value != ""}


def plausible_client_id(value: str | None) -> str | None:
    """A client_id worth looking up (printable ASCII, at most 64 characters), else None: an
    id with a NUL byte must never reach PostgreSQL, which refuses it with an error."""
    if value and CLIENT_ID_PATTERN.fullmatch(value):
        return value
    return None


# --- checks that answer with a page -----------------------------------------------------------


def check_client_known(repeated: set[str], client: OAuthClient | None) -> OAuthClient:
    """RFC 6749 4.1.2.1: an unknown or ambiguous client_id is reported to the citizen."""
    if "client_id" in repeated:
        raise AuthorizationPageError("The client_id parameter must be sent once.")
    if client is None:
        raise AuthorizationPageError("The client is not registered with this provider.")
    return client


def check_redirect_uri(params: dict[str, str], repeated: set[str], client: OAuthClient) -> str:
    """RFC 6749 3.1.2.3 and RFC 9700 4.1.3: the redirect URI is required (OIDC Core 3.1.2.1)
    and must equal a registered one character for character; the one exception is the port of
    a native client's loopback redirect (RFC 8252 7.3), in ``redirect_uri_matches``."""
    if "redirect_uri" in repeated:
        raise AuthorizationPageError("The redirect_uri parameter must be sent once.")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise AuthorizationPageError("The redirect_uri parameter is missing.")
    if not redirect_uri_matches(client.redirect_uris, redirect_uri, client.application_type):
        raise AuthorizationPageError("The redirect_uri is not registered for this client.")
    return redirect_uri


def check_state_size(params: dict[str, str]) -> None:
    """An oversized ``state`` (more than 2048 characters) is answered with a page, not a
    redirect.

    Why a page: the error redirect must echo ``state`` (RFC 6749 4.1.2.1), and a 64 KB state
    would make a Location header or form_post page far beyond what browsers and proxies carry
    (typically 8-16 KB), so the redirect would fail somewhere we cannot see; dropping or
    truncating ``state`` would instead hand the client a response it cannot match to its
    request (the CSRF defence of RFC 6749 10.12). A legitimate client never sends such a state,
    so the citizen is told on our side, deterministically, and nothing is stored.
    """
    state = params.get("state")
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise AuthorizationPageError(
            f"The state parameter is longer than {MAX_STATE_LENGTH} characters."
        )


# --- the request object (OIDC Core 6.1, RFC 9101) ---------------------------------------------


def _request_object_values(claims: dict[str, Any]) -> dict[str, str]:
    """The authorization parameters of a request object as query-style strings: JSON strings
    as they are, ``claims`` (a JSON object) serialised, ``max_age`` (a number) in digits;
    unknown claims (``iss``, ``aud``, ``exp``...) are not parameters."""
    values: dict[str, str] = {}
    for name in REQUEST_OBJECT_PARAMETERS.intersection(claims):
        value = claims[name]
        if isinstance(value, str):
            values[name] = value
        elif name == "claims" and isinstance(value, dict):
            values[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
            values[name] = str(value)
        else:
            raise InvalidRequestObject(debug=f"request object parameter {name} has a bad type")
    return values


def check_outer_parameters(outer: dict[str, str], inner: dict[str, str]) -> None:
    """RFC 9101 5 and OIDC Core 6.1: the query's ``client_id`` (checked by the opener),
    ``response_type`` and ``scope``, when sent beside ``request``, agree with the object."""
    if "response_type" in outer and outer["response_type"] != inner.get("response_type"):
        raise InvalidRequestObject(debug="response_type differs from the request object's")
    if "scope" in outer:
        inner_scopes = set(inner.get("scope", "").split())
        if not set(outer["scope"].split()) <= inner_scopes:
            raise InvalidRequestObject(debug="scope is wider than the request object's")


def _request_object_error(
    error: ProviderError, params: dict[str, str], repeated: set[str], client: OAuthClient
) -> Exception:
    """Where an invalid request object is reported: to the query's redirect URI when it is
    registered for the client, else on a page."""
    redirect_uri = params.get("redirect_uri")
    if (
        redirect_uri
        and "redirect_uri" not in repeated
        and redirect_uri_matches(client.redirect_uris, redirect_uri, client.application_type)
        and (params.get("state") is None or len(params["state"]) <= MAX_STATE_LENGTH)
    ):
        mode = params.get("response_mode")
        destination = Destination(
            redirect_uri=redirect_uri,
            response_mode=mode if mode in RESPONSE_MODES else DEFAULT_RESPONSE_MODE,
            state=params.get("state"),
            client_name=client.client_name,
        )
        return AuthorizationRedirect(error, destination=destination)
    return RequestObjectPageError(error.description, debug=error.debug)


def request_object_parameters(
    params: dict[str, str],
    repeated: set[str],
    client: OAuthClient,
    open_request_object: RequestObjectOpener,
) -> dict[str, str]:
    """RFC 9101 5 and 6.3: verify the request object and use only its parameters from now on
    (``client_id`` included, equal to the query's)."""
    try:
        if "request" in repeated:
            raise InvalidRequestObject("The request parameter must be sent once.")
        if "request_uri" in params:
            raise InvalidRequestObject("Send either request or request_uri, not both.")
        inner = _request_object_values(open_request_object(params["request"], client))
        check_outer_parameters(params, inner)
    except InvalidRequestObject as error:
        raise _request_object_error(error, params, repeated, client) from None
    return without_empty_values({**inner, "client_id": client.client_id})


# --- checks that are redirected to the client -------------------------------------------------


def check_no_repeated_parameters(repeated: set[str]) -> None:
    """RFC 6749 3.1: parameters must not be repeated (-> invalid_request). Unknown parameters
    are ignored, repeated or not."""
    known = repeated & KNOWN_PARAMETERS
    if known:
        raise InvalidRequest(f"Repeated parameter: {', '.join(sorted(known))}.")


def check_well_formed_values(params: dict[str, str]) -> None:
    """Known parameters have bounded length and no control characters (a NUL byte cannot be
    stored in PostgreSQL text, and no OAuth parameter has a use for one). Unknown parameters
    are ignored (RFC 6749 3.1), so they are not checked either."""
    for name in KNOWN_PARAMETERS.intersection(params):
        value = params[name]
        if len(value) > LENGTH_LIMITS.get(name, MAX_PARAMETER_LENGTH):
            raise InvalidRequest(f"The {name} parameter is too long.")
        if CONTROL_CHARACTERS.search(value):
            raise InvalidRequest(f"The {name} parameter contains control characters.")


def check_no_request_uri(params: dict[str, str]) -> None:
    """OIDC Core 6.2 and 3.1.2.6: request objects by reference are not supported."""
    if "request_uri" in params:
        raise RequestUriNotSupported()


def check_request_object_sent(client: OAuthClient, *, signed: bool) -> None:
    """OpenID Federation 1.0 12.1.1.1: an automatically registered client authenticates its
    authorization requests with a signed request object; without one -> invalid_request."""
    if client.registration_type == RegistrationType.AUTOMATIC and not signed:
        raise InvalidRequest("This client must send a signed request object.")


def check_response_type(params: dict[str, str]) -> None:
    """RFC 6749 4.1.1 and RFC 9700 2.1.2: only the authorization code flow (``code``, exactly);
    a missing response_type is a missing required parameter (invalid_request)."""
    response_type = params.get("response_type")
    if response_type is None:
        raise InvalidRequest("The response_type parameter is missing.")
    if response_type != "code":
        raise UnsupportedResponseType("Only response_type=code is supported.")


def check_response_mode(params: dict[str, str]) -> str:
    """OAuth 2.0 Multiple Response Types 2.1 and Form Post Response Mode: ``query`` (the
    default for ``code``) or ``form_post``; ``fragment`` and anything else are refused."""
    response_mode = params.get("response_mode", DEFAULT_RESPONSE_MODE)
    if response_mode not in RESPONSE_MODES:
        raise InvalidRequest("response_mode must be query or form_post.")
    return response_mode


def check_scope(params: dict[str, str], client: OAuthClient) -> list[str]:
    """OIDC Core 3.1.2.1: ``openid`` is required; RFC 6749 3.3: only scopes registered for the
    client (-> invalid_scope). The description does not echo the client's input."""
    scopes = list(dict.fromkeys(params.get("scope", "").split(" ")))
    scopes = [scope for scope in scopes if scope]
    if "openid" not in scopes:
        raise InvalidScope("The scope must include openid.")
    if any(scope not in client.scopes for scope in scopes):
        raise InvalidScope("A requested scope is not allowed for this client.")
    if set(SERVICE_SCOPES).intersection(scopes):
        raise InvalidScope("The signature scope is for the client_credentials grant only.")
    return scopes


def check_grant_type(client: OAuthClient) -> None:
    """RFC 6749 4.1.2.1: a client not registered for the authorization_code grant is an
    unauthorized_client."""
    if GrantType.AUTHORIZATION_CODE not in client.grant_types:
        raise UnauthorizedClient("This client may not use the authorization code flow.")


def check_pkce(params: dict[str, str]) -> str:
    """RFC 7636 4.3 and RFC 9700 2.1.1: PKCE is required for every client, with S256 only
    (``plain`` offers no protection when the request leaks, so it is refused, as is a missing
    method, whose RFC 7636 default is ``plain``); the challenge is 43-128 characters of the
    unreserved set (RFC 7636 4.2)."""
    challenge = params.get("code_challenge")
    if challenge is None:
        raise InvalidRequest("PKCE is required: code_challenge is missing.")
    if params.get("code_challenge_method") != "S256":
        raise InvalidRequest("code_challenge_method must be S256.")
    if not PKCE_CHALLENGE.fullmatch(challenge):
        raise InvalidRequest("code_challenge must be 43 to 128 unreserved characters.")
    return challenge


def check_prompt(params: dict[str, str]) -> list[str]:
    """OIDC Core 3.1.2.1: space-separated values of none, login, consent, select_account;
    ``none`` alone or not at all."""
    prompt = [value for value in params.get("prompt", "").split(" ") if value]
    if any(value not in PROMPT_VALUES for value in prompt):
        raise InvalidRequest("Unknown prompt value.")
    if "none" in prompt and len(set(prompt)) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values.")
    return list(dict.fromkeys(prompt))


def check_max_age(params: dict[str, str]) -> int | None:
    """OIDC Core 3.1.2.1: max_age is a non-negative integer of seconds (ASCII digits only:
    ``str.isdigit`` would let ``²`` through to ``int``)."""
    raw = params.get("max_age")
    if raw is None:
        return None
    if not MAX_AGE_PATTERN.fullmatch(raw):
        raise InvalidRequest("max_age must be a non-negative integer.")
    return int(raw)


def check_claims(params: dict[str, str]) -> dict[str, Any]:
    """OIDC Core 5.5: a malformed ``claims`` parameter is an invalid_request; its detail
    (which may quote the client's input) goes to the log only."""
    try:
        return parse_claims_parameter(params.get("claims")).to_json()
    except ClaimsRequestError as exc:
        raise InvalidRequest("The claims parameter is malformed.", debug=str(exc)) from None


def validate_request(
    raw_params: dict[str, str],
    repeated: set[str],
    client: OAuthClient | None,
    *,
    open_request_object: RequestObjectOpener | None = None,
) -> ValidatedRequest:
    """Validate an authorization request (OIDC Core 3.1.2.2); raise ``AuthorizationPageError``
    before the redirect URI is trusted, ``AuthorizationRedirect`` after. Without
    ``open_request_object``, a request object is refused as ``invalid_request_object``."""
    params = without_empty_values(raw_params)
    client = check_client_known(repeated, client)
    signed = "request" in params
    if signed:
        opener = open_request_object or _no_request_objects
        params = request_object_parameters(params, repeated, client, opener)
        repeated = set()
    redirect_uri = check_redirect_uri(params, repeated, client)
    check_state_size(params)
    requested_mode = params.get("response_mode")
    destination = Destination(
        redirect_uri=redirect_uri,
        response_mode=requested_mode if requested_mode in RESPONSE_MODES else "query",
        state=params.get("state"),
        client_name=client.client_name,
    )
    try:
        check_no_repeated_parameters(repeated)
        check_well_formed_values(params)
        check_no_request_uri(params)
        check_request_object_sent(client, signed=signed)
        check_response_type(params)
        response_mode = check_response_mode(params)
        scopes = check_scope(params, client)
        check_grant_type(client)
        challenge = check_pkce(params)
        prompt = check_prompt(params)
        max_age = check_max_age(params)
        claims = check_claims(params)
    except ProviderError as error:
        raise AuthorizationRedirect(error, destination=destination) from None
    return ValidatedRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        response_mode=response_mode,
        scopes=scopes,
        code_challenge=challenge,
        state=params.get("state"),
        nonce=params.get("nonce"),
        prompt=prompt,
        max_age=max_age,
        ui_locales=params.get("ui_locales"),
        login_hint=params.get("login_hint"),
        acr_values=params.get("acr_values"),
        id_token_hint=params.get("id_token_hint"),
        claims=claims,
    )


def _no_request_objects(token: str, client: OAuthClient) -> dict[str, Any]:
    raise InvalidRequestObject(debug="no request object verifier was given")


# --- decisions about the login ----------------------------------------------------------------


def login_is_stale(
    *, authenticated_at: datetime | None, max_age: int | None, now: datetime
) -> bool:
    """OIDC Core 3.1.2.1 max_age: a login older than max_age seconds must be repeated;
    ``max_age=0`` always asks for a new login (like ``prompt=login``)."""
    if authenticated_at is None:
        return True
    if max_age is None:
        return False
    return max_age == 0 or now - authenticated_at > timedelta(seconds=max_age)


def fresh_login_done(*, authenticated_at: datetime | None, pending: PendingAuthorization) -> bool:
    """After the login page: a request that demanded a new login continues only with a login
    made at or after the request itself (OIDC Core 3.1.2.3)."""
    if authenticated_at is None:
        return False
    return not pending.login_required or authenticated_at >= pending.requested_at


# --- responses --------------------------------------------------------------------------------


def redirect_with(redirect_uri: str, parameters: dict[str, str]) -> str:
    """The redirect URI with response parameters added to its own query (RFC 6749 3.1.2: the
    query component of the registered URI "MUST be retained")."""
    parts = urlsplit(redirect_uri)
    query = urlencode(parameters)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def error_parameters(error: ProviderError, *, state: str | None, issuer: str) -> dict[str, str]:
    """RFC 6749 4.1.2.1 error response, with ``iss`` (RFC 9207 2)."""
    parameters = {"error": error.error, "error_description": error.description}
    if state is not None:
        parameters["state"] = state
    parameters["iss"] = issuer
    return parameters


def success_parameters(*, code: str, state: str | None, issuer: str) -> dict[str, str]:
    """RFC 6749 4.1.2 authorization response, with ``iss`` (RFC 9207 2)."""
    parameters = {"code": code}
    if state is not None:
        parameters["state"] = state
    parameters["iss"] = issuer
    return parameters
