"""The bridge to authlib's Starlette client: the one module that knows authlib.

- Discovery: the provider's metadata from ``ISSUER/.well-known/openid-configuration`` (OpenID
  Connect Discovery 1.0 section 4).
- Authorization code flow with PKCE S256 (RFC 7636), ``state`` and ``nonce`` (OIDC Core 3.1.2.1)
  kept by authlib in the signed session.
- Client authentication at the token endpoint with ``private_key_jwt`` (RFC 7523 2.2, OIDC Core
  9): an assertion signed with the portal's key, whose public part the provider registered.
- The ID token validated by authlib against the provider's JWKS (signature, ``iss``, ``aud``,
  ``exp``, ``nonce``, ``at_hash``).
- RP-Initiated Logout 1.0: the provider's ``end_session_endpoint`` with ``id_token_hint``.
- The client_credentials grant (RFC 6749 4.4) for the provider's own APIs (the ``signature``
  scope), with the same ``private_key_jwt`` client authentication; API calls then carry the
  access token as a bearer token (RFC 6750 2.1) through the same authlib client.
"""

from __future__ import annotations

import warnings
from typing import Any

from relying_party_demo.config import PortalSettings
from relying_party_demo.keys import CLIENT_ASSERTION_ALG, ClientKey

with warnings.catch_warnings():
    # authlib warns about its own httpx integration on import; not our concern here. Its
    # deprecate module installs an "always" filter when imported, so ours goes in after it.
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore")
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from authlib.integrations.starlette_client import OAuth
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

PROVIDER = "provider"
SCOPES = ("openid", "profile", "email", "document")
SERVICE_SCOPE = "signature"
"""The provider's signature API, reached with a client_credentials access token."""
TOKEN_ENDPOINT_AUTH_METHOD = "private_key_jwt"

__all__ = [
    "PROVIDER",
    "SCOPES",
    "SERVICE_SCOPE",
    "TOKEN_ENDPOINT_AUTH_METHOD",
    "MismatchingStateError",
    "OAuthError",
    "build_oauth",
    "fetch_service_token",
]


def build_oauth(settings: PortalSettings, client_key: ClientKey) -> Any:
    """An authlib registry with the provider registered as ``PROVIDER``."""
    oauth = OAuth()
    oauth.register(
        name=PROVIDER,
        client_id=settings.client_id,
        client_secret=client_key.private_key,
        server_metadata_url=settings.discovery_url,
        client_auth_methods=[
            PrivateKeyJWT(alg=CLIENT_ASSERTION_ALG, headers={"kid": client_key.kid})
        ],
        client_kwargs={
            "scope": " ".join(SCOPES),
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": TOKEN_ENDPOINT_AUTH_METHOD,
            "timeout": 10.0,
        },
    )
    return oauth.create_client(PROVIDER)


async def fetch_service_token(provider: Any, *, scope: str) -> dict[str, Any]:
    """An access token of the portal itself (RFC 6749 4.4.2), authenticated like every token
    request with ``private_key_jwt``. Raises ``OAuthError`` when the provider refuses and
    ``httpx.HTTPError`` when it cannot be reached."""
    token = await provider.fetch_access_token(grant_type="client_credentials", scope=scope)
    return dict(token)
