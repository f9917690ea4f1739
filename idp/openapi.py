"""The OpenAPI description of the endpoints machines call (OpenAPI 3.1).

Only the JSON endpoints: discovery (OIDC Discovery 1.0 section 4, RFC 8414 section 3), the JWK
Set (RFC 7517 section 5), token (RFC 6749 section 3.2), UserInfo (OIDC Core 5.3), introspection
(RFC 7662), revocation (RFC 7009) and the probes; with federation on, the Entity Configuration
(OpenID Federation 1.0 section 9), and on a Trust Anchor its fetch, list and resolve endpoints
(sections 8.1, 8.2, 8.3; errors of section 8.9). Browser pages are not described (cross-border
login's ``/federation/start``, ``/federation/callback`` and ``/federation/consent`` among them):
they answer HTML and redirects, and a schema would promise nothing a client can use.

Paths and methods come from the application's own routes, so the description cannot drift from
them; each operation is named ``<method>_<path>`` (unique, unlike FastAPI's ids, which a route
serving GET and POST shares between both). What FastAPI cannot see (these endpoints read their
form bodies by hand: RFC 6749 3.2 forbids repeated parameters) is added here: the form bodies,
the client and bearer authentication schemes and the JSON shapes of every answer, errors
included. The
application does not serve it (``openapi_url=None``); ``machine_openapi(app)`` builds it, for
the fuzzing tests (``tests/security/test_fuzz_openapi.py``) and for client developers.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from idp.config import Settings
from idp.federation import entity
from idp.federation.fetcher import WELL_KNOWN_PATH
from idp.federation.resolve import RESOLVE_RESPONSE_MEDIA_TYPE
from idp.federation.routes import UNSUPPORTED_LIST_PARAMETERS
from idp.federation.statements import ENTITY_STATEMENT_MEDIA_TYPE
from idp.oidc import endpoints
from idp.ops import health

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

MACHINE_PATHS = frozenset(
    {
        endpoints.DISCOVERY,
        endpoints.AUTHORIZATION_SERVER_METADATA,
        endpoints.JWKS,
        endpoints.TOKEN,
        endpoints.USERINFO,
        endpoints.INTROSPECTION,
        endpoints.REVOCATION,
    }
)

TRUST_ANCHOR_PATHS = frozenset(
    {entity.FETCH_ENDPOINT, entity.LIST_ENDPOINT, entity.RESOLVE_ENDPOINT}
)


def federation_paths(settings: Settings) -> frozenset[str]:
    """The federation endpoints ``settings`` serves (the others answer 404): the Entity
    Configuration when federation is on, and the fetch, list and resolve endpoints on a Trust
    Anchor."""
    if not settings.federation_enabled:
        return frozenset()
    if settings.federation_role == entity.TRUST_ANCHOR:
        return TRUST_ANCHOR_PATHS | {WELL_KNOWN_PATH}
    return frozenset({WELL_KNOWN_PATH})


_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "pattern": "no-store"}}}


def operation_id(method: str, path: str) -> str:
    """``post_token``, ``get_userinfo``, ``post_userinfo``: unique by construction."""
    return f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, *, no_store: bool = True) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if no_store:
        answer["headers"] = _NO_STORE
    return answer


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("OAuthError"), description)


# --- schemas -------------------------------------------------------------------------------------

_STRING = {"type": "string"}
_CLIENT_PARAMETERS: dict[str, Any] = {
    "client_id": _STRING,
    "client_secret": _STRING,
    "client_assertion_type": _STRING,
    "client_assertion": _STRING,
}
"""OIDC Core 9 / RFC 7523 2.2: client credentials in the body (``client_secret_post``,
``private_key_jwt``); ``client_secret_basic`` uses the Authorization header instead."""

SCHEMAS: dict[str, Any] = {
    "OAuthError": {
        "description": "RFC 6749 5.2 / RFC 6750 3.1: the error code, and a description.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "pattern": "^[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]+$"},
            "error_description": {"type": "string"},
            "error_uri": {"type": "string"},
        },
    },
    "FederationError": {
        "description": "OpenID Federation 1.0 section 8.9: the error code, and a description.",
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {
            "error": {
                "type": "string",
                "enum": [
                    "invalid_request",
                    "not_found",
                    "unsupported_parameter",
                    "invalid_trust_anchor",
                    "invalid_trust_chain",
                ],
            },
            "error_description": {"type": "string"},
        },
    },
    "EntityIds": {
        "description": "OpenID Federation 1.0 section 8.2.2: the Subordinates' Entity Identifiers.",
        "type": "array",
        "items": {"type": "string"},
    },
    "TokenRequest": {
        "description": "RFC 6749 4.1.3 and 6, OIDC Core 3.1.3.1; RFC 7636 4.5.",
        "type": "object",
        "properties": {
            "grant_type": {
                "type": "string",
                "enum": ["authorization_code", "refresh_token", "client_credentials"],
            },
            "code": _STRING,
            "redirect_uri": _STRING,
            "code_verifier": _STRING,
            "refresh_token": _STRING,
            "scope": _STRING,
            **_CLIENT_PARAMETERS,
        },
    },
    "TokenResponse": {
        "description": "RFC 6749 5.1, OIDC Core 3.1.3.3.",
        "type": "object",
        "required": ["access_token", "token_type"],
        "properties": {
            "access_token": _STRING,
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer", "minimum": 0},
            "refresh_token": _STRING,
            "id_token": _STRING,
            "scope": _STRING,
        },
    },
    "TokenOperation": {
        "description": "RFC 7662 2.1 and RFC 7009 2.1.",
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": _STRING,
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
            **_CLIENT_PARAMETERS,
        },
    },
    "Introspection": {
        "description": "RFC 7662 2.2: ``active`` alone for a token the caller may not see.",
        "type": "object",
        "required": ["active"],
        "properties": {
            "active": {"type": "boolean"},
            "scope": _STRING,
            "client_id": _STRING,
            "token_type": _STRING,
            "exp": {"type": "integer"},
            "iat": {"type": "integer"},
            "sub": _STRING,
            "aud": {"anyOf": [_STRING, {"type": "array", "items": _STRING}]},
            "iss": _STRING,
        },
    },
    "UserInfoRequest": {
        "description": "RFC 6750 2.2: the access token in the form body.",
        "type": "object",
        "properties": {"access_token": _STRING},
    },
    "UserInfo": {
        "description": "OIDC Core 5.3.2: claims about the citizen; ``sub`` always.",
        "type": "object",
        "required": ["sub"],
        "properties": {"sub": _STRING},
    },
    "ProviderMetadata": {
        "description": "OIDC Discovery 1.0 section 3 (the REQUIRED members) and RFC 8414 2.",
        "type": "object",
        "required": [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ],
        "properties": {
            "issuer": _STRING,
            "authorization_endpoint": _STRING,
            "token_endpoint": _STRING,
            "jwks_uri": _STRING,
            "response_types_supported": {"type": "array", "items": _STRING},
            "subject_types_supported": {"type": "array", "items": _STRING},
            "id_token_signing_alg_values_supported": {
                "type": "array",
                "items": _STRING,
                "not": {"contains": {"const": "none"}},
            },
        },
    },
    "JWKSet": {
        "description": "RFC 7517 5: public keys only (no private members).",
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kty", "kid"],
                    "properties": {"kty": _STRING, "kid": _STRING, "use": _STRING, "alg": _STRING},
                    "not": {"anyOf": [{"required": [m]} for m in ("d", "p", "q", "dp", "dq")]},
                },
            }
        },
    },
    "Liveness": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "additionalProperties": {"type": "string", "enum": ["ok", "failed", "timeout"]},
            },
        },
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "client_secret_basic": {"type": "http", "scheme": "basic"},
    "bearer": {"type": "http", "scheme": "bearer"},
}

# --- what each operation takes and answers -------------------------------------------------------

_OVERLOADED = _error("Shed under load (``Retry-After``); the probes are never shed.")
_TOO_LARGE = _error("The body is larger than the limit.")
_CLIENT_AUTH = [{"client_secret_basic": []}, {}]


def _form_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {FORM: {"schema": _ref(schema)}}}


def _client_endpoint(ok: dict[str, Any], body: str) -> dict[str, Any]:
    return {
        "requestBody": _form_body(body),
        "security": _CLIENT_AUTH,
        "responses": {
            "200": ok,
            "400": _error("invalid_request, invalid_grant, unsupported_grant_type, ..."),
            "401": _error("invalid_client (with a Basic challenge when Basic was tried)."),
            "413": _TOO_LARGE,
            "503": _OVERLOADED,
        },
    }


_USERINFO_OK = {
    "description": "The claims, as JSON or as a signed JWT when the client registered that.",
    "headers": _NO_STORE,
    "content": {JSON: {"schema": _ref("UserInfo")}, "application/jwt": {"schema": _STRING}},
}
_USERINFO_ERRORS = {
    "400": _error("invalid_request (RFC 6750 3.1): e.g. a token in the query or twice."),
    "401": _error("invalid_token, with a Bearer challenge (RFC 6750 3)."),
    "403": _error("insufficient_scope: the token was not issued with ``openid``."),
    "413": _TOO_LARGE,
    "503": _OVERLOADED,
}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    (endpoints.DISCOVERY, "get"): {
        "responses": {"200": _json(_ref("ProviderMetadata"), "The metadata.", no_store=False)}
    },
    (endpoints.AUTHORIZATION_SERVER_METADATA, "get"): {
        "responses": {"200": _json(_ref("ProviderMetadata"), "The metadata.", no_store=False)}
    },
    (endpoints.JWKS, "get"): {
        "responses": {
            "200": {
                "description": "The public signing keys.",
                "content": {"application/jwk-set+json": {"schema": _ref("JWKSet")}},
            }
        }
    },
    (endpoints.TOKEN, "post"): _client_endpoint(
        _json(_ref("TokenResponse"), "The tokens."), "TokenRequest"
    ),
    (endpoints.INTROSPECTION, "post"): _client_endpoint(
        _json(_ref("Introspection"), "What the caller may know of the token."), "TokenOperation"
    ),
    (endpoints.REVOCATION, "post"): _client_endpoint(
        {"description": "Revoked, or not the caller's token (RFC 7009 2.2)."}, "TokenOperation"
    ),
    (endpoints.USERINFO, "get"): {
        "security": [{"bearer": []}, {}],
        "responses": _USERINFO_ERRORS | {"200": _USERINFO_OK},
    },
    (endpoints.USERINFO, "post"): {
        "security": [{"bearer": []}, {}],
        "requestBody": {
            "required": False,
            "content": {FORM: {"schema": _ref("UserInfoRequest")}},
        },
        "responses": _USERINFO_ERRORS | {"200": _USERINFO_OK},
    },
}


def _federation_error(description: str) -> dict[str, Any]:
    return _json(_ref("FederationError"), description)


def _signed(media_type: str, description: str) -> dict[str, Any]:
    """A compact JWS (three base64url segments) served as ``media_type``."""
    jws = {"type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"}
    return {"description": description, "content": {media_type: {"schema": jws}}}


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


_ENTITY_ID = _query("sub", _STRING, "The subject's Entity Identifier.", required=True)

FEDERATION_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    (WELL_KNOWN_PATH, "get"): {
        "summary": "The Entity Configuration (OpenID Federation 1.0 section 9).",
        "responses": {
            "200": _signed(ENTITY_STATEMENT_MEDIA_TYPE, "Signed with the federation key.")
        },
    },
    (entity.FETCH_ENDPOINT, "get"): {
        "summary": "A Subordinate Statement (section 8.1).",
        "parameters": [_ENTITY_ID],
        "responses": {
            "200": _signed(ENTITY_STATEMENT_MEDIA_TYPE, "About an active Subordinate."),
            "400": _federation_error("invalid_request: no ``sub``, or ``sub`` repeated."),
            "404": _federation_error("not_found: not an active Subordinate."),
        },
    },
    (entity.LIST_ENDPOINT, "get"): {
        "summary": "The active Subordinates (section 8.2).",
        "parameters": [
            _query("entity_type", _STRING, "Only Subordinates of this Entity Type."),
            *(
                _query(name, _STRING, "Not supported: 400 unsupported_parameter.")
                for name in UNSUPPORTED_LIST_PARAMETERS
            ),
        ],
        "responses": {
            "200": _json(_ref("EntityIds"), "Their Entity Identifiers."),
            "400": _federation_error("unsupported_parameter, or invalid_request (repeated)."),
        },
    },
    (entity.RESOLVE_ENDPOINT, "get"): {
        "summary": "The subject's resolved metadata and Trust Chain, signed (section 8.3).",
        "parameters": [
            _ENTITY_ID,
            _query(
                "trust_anchor",
                _STRING,
                "The Trust Anchor to resolve to: only this entity itself.",
                required=True,
            ),
            _query(
                "entity_type",
                {"type": "array", "items": _STRING},
                "Only these Entity Types' metadata.",
                style="form",
                explode=True,
            ),
        ],
        "responses": {
            "200": {
                **_signed(RESOLVE_RESPONSE_MEDIA_TYPE, "typ resolve-response+jwt."),
                "headers": _NO_STORE,
            },
            "400": _federation_error("invalid_request: a missing or repeated parameter."),
            "404": _federation_error(
                "invalid_trust_anchor, invalid_trust_chain, or not_found (an Entity Type the "
                "subject lacks)."
            ),
        },
    },
}
"""Served only where ``federation_paths`` says (a Trust Anchor serves all four)."""

PROBES: dict[str, Any] = {
    health.HEALTHZ_PATH: {
        "get": {
            "operationId": operation_id("get", health.HEALTHZ_PATH),
            "summary": "Liveness: the process answers.",
            "responses": {"200": _json(_ref("Liveness"), "Alive.")},
        }
    },
    health.READYZ_PATH: {
        "get": {
            "operationId": operation_id("get", health.READYZ_PATH),
            "summary": "Readiness: the database answers and the signing keys are loaded.",
            "responses": {
                "200": _json(_ref("Readiness"), "Ready."),
                "503": _json(_ref("Readiness"), "Not ready; the failing check is named."),
            },
        }
    },
}
"""The probes are left out of FastAPI's description (``include_in_schema=False``)."""


def machine_openapi(app: FastAPI) -> dict[str, Any]:
    """The description of the machine endpoints of ``app`` (its routes, and the table above)."""
    with warnings.catch_warnings():
        # A route that serves GET and POST (UserInfo, OIDC Core 5.3.1) gives both methods one
        # FastAPI id; each operation is named after its method and path below instead.
        warnings.filterwarnings("ignore", message="Duplicate Operation ID")
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            description=(
                "The endpoints relying parties, federation entities and operators call; every "
                "answer is JSON or a signed JWT."
            ),
            routes=app.routes,
        )
    served = MACHINE_PATHS | federation_paths(app.state.provider.settings)
    document["paths"] = {
        path: operations for path, operations in document["paths"].items() if path in served
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            extra = OPERATIONS.get((path, method)) or FEDERATION_OPERATIONS.get((path, method))
            if extra is None:
                raise LookupError(f"{method.upper()} {path} is not described in idp.openapi")
            operation.pop("parameters", None)  # only the context dependencies FastAPI saw
            operation.update(extra)
            operation["operationId"] = operation_id(method, path)
    document["paths"].update(PROBES)
    document["components"] = {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES}
    return document
