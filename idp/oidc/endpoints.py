"""Paths of the protocol endpoints, defined once. Only discovery promises them to clients."""

from __future__ import annotations

DISCOVERY = "/.well-known/openid-configuration"
AUTHORIZATION_SERVER_METADATA = "/.well-known/oauth-authorization-server"
JWKS = "/jwks.json"
AUTHORIZE = "/authorize"
AUTHORIZE_CONTINUE = "/authorize/continue"
CONSENT = "/consent"
TOKEN = "/token"
USERINFO = "/userinfo"
INTROSPECTION = "/introspect"
REVOCATION = "/revoke"
END_SESSION = "/logout/oidc"


def absolute(issuer: str, path: str) -> str:
    return f"{issuer}{path}"
