"""Register the portal at the provider, in process, through the provider's own registration
rules (``idp.oidc.clients``): the same validation as ``idp clients create``.

The portal is a confidential web client with ``private_key_jwt``: the authorization code grant
for logins, and the client_credentials grant with the ``signature`` scope for the provider's
signature API (whose return address, ``/firma/vuelta``, is one more registered redirect URI).

Idempotent: the portal has a fixed client_id (``RP_CLIENT_ID``, ``tramites-demo`` by default).
A second run keeps that id and refreshes the registration (key, redirect URIs, grants, scopes)
so that a new key, a new ``RP_BASE_URL`` or a new feature of the portal takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from idp.oidc.clients import (
    ApplicationType,
    ClientMetadata,
    GrantType,
    register_client,
    sector_identifier,
    validate_metadata,
)
from idp.storage import clients as client_store
from idp.storage.models import ClientAuthMethod, OAuthClient
from relying_party_demo.config import PortalSettings
from relying_party_demo.oidc import SCOPES, SERVICE_SCOPE

CLIENT_NAME = "Portal de trámites (demostración)"


@dataclass(frozen=True, slots=True)
class Registration:
    client_id: str
    created: bool
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]


def portal_metadata(settings: PortalSettings, jwks: dict[str, Any]) -> ClientMetadata:
    """What the portal registers: a confidential web client with private_key_jwt, for logins
    and for signature requests."""
    return ClientMetadata(
        client_name=CLIENT_NAME,
        redirect_uris=[settings.redirect_uri, settings.signature_redirect_uri],
        post_logout_redirect_uris=[settings.post_logout_redirect_uri],
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        application_type=ApplicationType.WEB,
        grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.CLIENT_CREDENTIALS],
        scopes=[*SCOPES, SERVICE_SCOPE],
        jwks=jwks,
    )


def register_portal(
    session: Session, *, settings: PortalSettings, jwks: dict[str, Any], now: datetime
) -> Registration:
    """Create the portal's client, or bring an existing one up to date (same client_id).

    Raises ``idp.oidc.clients.ClientRegistrationError`` when the provider's rules refuse it.
    """
    metadata = portal_metadata(settings, jwks)
    client = client_store.get_client(session, client_id=settings.client_id)
    created = client is None
    if client is None:
        client, _ = register_client(
            session, metadata=metadata, now=now, client_id=settings.client_id
        )
    else:
        _update(client, validate_metadata(metadata), now=now)
    return Registration(
        client_id=client.client_id,
        created=created,
        token_endpoint_auth_method=str(client.token_endpoint_auth_method),
        redirect_uris=list(client.redirect_uris),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        grant_types=[str(grant) for grant in client.grant_types],
        scopes=list(client.scopes),
    )


def _update(client: OAuthClient, valid: ClientMetadata, *, now: datetime) -> None:
    client.client_name = valid.client_name
    client.token_endpoint_auth_method = valid.token_endpoint_auth_method
    client.secret_hash = None  # private_key_jwt: no shared secret is kept
    client.secret_rotated_at = None
    client.application_type = valid.application_type
    client.redirect_uris = valid.redirect_uris
    client.post_logout_redirect_uris = valid.post_logout_redirect_uris
    client.grant_types = valid.grant_types
    client.scopes = valid.scopes
    client.jwks = valid.jwks
    client.jwks_uri = None
    client.subject_type = valid.subject_type
    client.sector_identifier = sector_identifier(valid)
    client.updated_at = now
