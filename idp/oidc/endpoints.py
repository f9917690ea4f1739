"""Paths of the protocol endpoints, defined once. Only discovery promises them to clients."""

from __future__ import annotations

DISCOVERY = "/.well-known/openid-configuration"
AUTHORIZATION_SERVER_METADATA = "/.well-known/oauth-authorization-server"
JWKS = "/jwks.json"
AUTHORIZE = "/authorize"
AUTHORIZE_CONTINUE = "/authorize/continue"
CONSENT = "/consent"
STEP_UP = "/step-up"
"""Chooses the missing method for a parked request (``?request_id=``) and sends the citizen
to it; each method's page returns to ``AUTHORIZE_CONTINUE`` when done."""
STEP_UP_TOTP = "/step-up/totp"
STEP_UP_CARD = "/step-up/card"
ACCOUNT_TOTP = "/account/totp"
TOKEN = "/token"
USERINFO = "/userinfo"
INTROSPECTION = "/introspect"
REVOCATION = "/revoke"
END_SESSION = "/logout/oidc"
SIGNATURE_REQUESTS = "/signature/requests"
SIGNATURE_VERIFY = "/signature/verify"
SIGNATURE_APPROVE = "/signature/approve"
SIGNATURE_CA = "/signature/ca.pem"
SIGNATURE_CRL = "/signature/crl"


def absolute(issuer: str, path: str) -> str:
    return f"{issuer}{path}"
