"""Automatic Registration of relying parties (OpenID Federation 1.0, section 12.1).

A relying party of the federation uses this provider without registering first: its
``client_id`` is its Entity Identifier, and its first authorization request carries a signed
request object (section 12.1.1.1; checked by ``idp.oidc.request_object``). The provider
resolves the relying party's Trust Chain (``openid_relying_party``, through
``ProviderContext.federation``) and registers the client from the *resolved* metadata only:

- ``redirect_uris``, the keys (``jwks``, or ``jwks_uri``), ``client_name`` (else the
  ``federation_entity`` ``organization_name``), ``id_token_signed_response_alg``,
  ``request_object_signing_alg``, ``subject_type`` (``pairwise`` when asked, per the single
  host of the redirect URIs), ``post_logout_redirect_uris``, ``application_type``;
- ``token_endpoint_auth_method`` is ``private_key_jwt`` (there is no secret to share; any other
  stated method is refused); the grant is ``authorization_code`` only: no refresh tokens, so no
  access outlives a registration; the scopes are the metadata's ``scope`` among those the
  provider supports (never ``offline_access``), by default ``openid profile``.

The registration expires at the Trust Chain's expiry, capped by
``IDP_FEDERATION_CHAIN_CACHE_SECONDS``; after that the chain is resolved again (with the
resolver's cache dropped for that entity) before the client is used, at the authorization
endpoint and at client authentication. When it no longer resolves (removed at the Trust Anchor,
expired statements, a bad signature, unreachable) the client is refused and the stale row is not
used. A statically registered client with the same id always wins and is never overwritten, and
automatic registrations are not used at all when federation is off.

At the authorization endpoint a new or refreshed registration is kept only once the request
(its request object included) has been validated, so a refused request stores nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.federation.resolver import RELYING_PARTY, FederationResolver
from idp.federation.statements import TrustChainError
from idp.federation.trust_chain import TrustChain
from idp.oidc.client_cache import ClientCache
from idp.oidc.client_keys import SIGNING_ALGS
from idp.oidc.clients import (
    SUPPORTED_SCOPES,
    ApplicationType,
    ClientMetadata,
    ClientRegistrationError,
    GrantType,
    SubjectType,
    is_loopback_ip_host,
    sector_identifier,
    validate_metadata,
)
from idp.storage import clients as client_store
from idp.storage.models import ClientAuthMethod, OAuthClient, RegistrationType

logger = logging.getLogger("idp.federation.registration")

LEAF = "leaf"
MAX_ENTITY_ID_LENGTH = 64
"""The length of the ``client_id`` column; a longer Entity Identifier cannot register."""
DEFAULT_SCOPES = ("openid", "profile")
AUTOMATIC_SCOPES = tuple(scope for scope in SUPPORTED_SCOPES if scope != "offline_access")


class RegistrationRefused(Exception):
    """The relying party cannot be registered (or re-registered) now; one sentence for the
    log, never for the client."""


def looks_like_entity_id(value: str) -> bool:
    """An Entity Identifier (section 1.2): an https URL with a host and no query, fragment or
    user information; plain http only on a loopback host (development and tests)."""
    if not value or len(value) > MAX_ENTITY_ID_LENGTH:
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    if not host or parts.query or parts.fragment or "@" in parts.netloc or "#" in value:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (is_loopback_ip_host(host) or host == "localhost")


def is_automatic(client: OAuthClient) -> bool:
    return client.registration_type == RegistrationType.AUTOMATIC


def federation_accepts_registrations(settings: Settings) -> bool:
    return settings.federation_enabled and settings.federation_role == LEAF


def registration_is_current(client: OAuthClient, *, settings: Settings, now: datetime) -> bool:
    """A static client always is; an automatic one while federation is on and before its
    registration expires."""
    if not is_automatic(client):
        return True
    expires = client.registration_expires_at
    return federation_accepts_registrations(settings) and expires is not None and now < expires


# --- from resolved metadata to a client (pure) ----------------------------------------------


def _strings(metadata: dict[str, Any], name: str) -> list[str] | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RegistrationRefused(f"{name} must be an array of strings")
    return value


def _string(metadata: dict[str, Any], name: str) -> str | None:
    value = metadata.get(name)
    if value is not None and not isinstance(value, str):
        raise RegistrationRefused(f"{name} must be a string")
    return value


def _client_name(chain: TrustChain) -> str:
    name = _string(chain.metadata, "client_name")
    if name and name.strip():
        return name
    entity = chain.all_metadata.get("federation_entity") or {}
    organization = entity.get("organization_name") if isinstance(entity, dict) else None
    if isinstance(organization, str) and organization.strip():
        return organization
    return chain.entity_id


def _scopes(metadata: dict[str, Any]) -> list[str]:
    requested = _string(metadata, "scope")
    if requested is None:
        return list(DEFAULT_SCOPES)
    scopes = [scope for scope in dict.fromkeys(requested.split()) if scope in AUTOMATIC_SCOPES]
    return scopes if "openid" in scopes else ["openid", *scopes]


def client_from_chain(chain: TrustChain, *, now: datetime, max_age_seconds: int) -> OAuthClient:
    """The client row (not added to any session) that the resolved ``openid_relying_party``
    metadata of ``chain`` describes; raises :class:`RegistrationRefused`."""
    metadata = chain.metadata
    registration_types = _strings(metadata, "client_registration_types")
    if registration_types is not None and "automatic" not in registration_types:
        raise RegistrationRefused("the relying party does not use automatic registration")
    method = _string(metadata, "token_endpoint_auth_method") or ClientAuthMethod.PRIVATE_KEY_JWT
    if method != ClientAuthMethod.PRIVATE_KEY_JWT:
        raise RegistrationRefused(f"token_endpoint_auth_method {method!r} is not private_key_jwt")
    response_types = _strings(metadata, "response_types")
    if response_types is not None and "code" not in response_types:
        raise RegistrationRefused("the relying party does not use response_type code")
    grant_types = _strings(metadata, "grant_types")
    if grant_types is not None and GrantType.AUTHORIZATION_CODE not in grant_types:
        raise RegistrationRefused("the relying party does not use the authorization_code grant")
    jwks = metadata.get("jwks")
    jwks_uri = _string(metadata, "jwks_uri")
    if jwks is not None and not isinstance(jwks, dict):
        raise RegistrationRefused("jwks must be a JWK Set")
    if jwks is not None:
        jwks_uri = None  # inline keys win: they come with the chain's signatures
    if jwks is None and jwks_uri is None:
        raise RegistrationRefused(
            "the relying party publishes no jwks or jwks_uri (signed_jwks_uri is not supported)"
        )
    request_alg = _string(metadata, "request_object_signing_alg")
    if request_alg is not None and request_alg not in SIGNING_ALGS:
        raise RegistrationRefused(f"request_object_signing_alg {request_alg!r} is not supported")
    application_type = _string(metadata, "application_type") or ApplicationType.WEB
    if application_type not in (ApplicationType.WEB, ApplicationType.NATIVE):
        raise RegistrationRefused(f"application_type {application_type!r} is unknown")
    subject_type = _string(metadata, "subject_type") or SubjectType.PUBLIC
    if subject_type not in (SubjectType.PUBLIC, SubjectType.PAIRWISE):
        raise RegistrationRefused(f"subject_type {subject_type!r} is unknown")
    try:
        valid = validate_metadata(
            ClientMetadata(
                client_name=_client_name(chain),
                redirect_uris=_strings(metadata, "redirect_uris") or [],
                token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
                application_type=ApplicationType(application_type),
                grant_types=[GrantType.AUTHORIZATION_CODE],
                scopes=_scopes(metadata),
                post_logout_redirect_uris=_strings(metadata, "post_logout_redirect_uris") or [],
                jwks=jwks,
                jwks_uri=jwks_uri,
                subject_type=SubjectType(subject_type),
                id_token_signed_response_alg=(
                    _string(metadata, "id_token_signed_response_alg") or "RS256"
                ),
            )
        )
    except ClientRegistrationError as exc:
        raise RegistrationRefused(str(exc)) from None
    expires_at = min(
        datetime.fromtimestamp(chain.expires_at, UTC), now + timedelta(seconds=max_age_seconds)
    )
    return OAuthClient(
        client_id=chain.entity_id,
        client_name=valid.client_name[:200],
        secret_hash=None,
        secret_rotated_at=None,
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        application_type=valid.application_type,
        redirect_uris=valid.redirect_uris,
        post_logout_redirect_uris=valid.post_logout_redirect_uris,
        grant_types=valid.grant_types,
        scopes=valid.scopes,
        jwks=valid.jwks,
        jwks_uri=valid.jwks_uri,
        subject_type=valid.subject_type,
        sector_identifier=sector_identifier(valid),
        sector_identifier_uri=None,
        id_token_signed_response_alg=valid.id_token_signed_response_alg,
        userinfo_signed_response_alg=None,
        backchannel_logout_uri=None,
        backchannel_logout_session_required=True,
        request_object_signing_alg=request_alg,
        registration_type=RegistrationType.AUTOMATIC,
        registration_expires_at=expires_at,
        federation_trust_anchor=chain.trust_anchor_id,
        created_at=now,
        updated_at=now,
    )


_COPIED = (
    "client_name",
    "token_endpoint_auth_method",
    "application_type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scopes",
    "jwks",
    "jwks_uri",
    "subject_type",
    "sector_identifier",
    "sector_identifier_uri",
    "id_token_signed_response_alg",
    "request_object_signing_alg",
    "registration_expires_at",
    "federation_trust_anchor",
    "updated_at",
)


# --- resolving and keeping registrations ----------------------------------------------------


@dataclass(frozen=True)
class AutomaticRegistrations:
    """Automatic registrations as the authorization and token endpoints use them."""

    settings: Settings
    resolver: FederationResolver | None
    clients: ClientCache

    @property
    def enabled(self) -> bool:
        return federation_accepts_registrations(self.settings) and self.resolver is not None

    def for_authorization(
        self, session: Session, client_id: str, *, signed_request: bool, now: datetime
    ) -> OAuthClient | None:
        """The client the authorization request names: a static client; a current automatic
        registration; or, for an Entity Identifier with a request object, a registration
        resolved now and not stored yet (:meth:`keep` stores it once the request is valid).
        None for an unknown client; :class:`RegistrationRefused` when the chain fails."""
        row = client_store.get_client(session, client_id=client_id)
        if row is not None and not is_automatic(row):
            return row
        if not self.enabled or not looks_like_entity_id(client_id):
            return None
        if row is not None and registration_is_current(row, settings=self.settings, now=now):
            return row
        if not signed_request:
            raise RegistrationRefused("a request object is required (section 12.1.1.1)")
        return self.resolve(client_id, now=now, again=row is not None)

    def resolve(self, client_id: str, *, now: datetime, again: bool) -> OAuthClient:
        """Resolve the relying party's Trust Chain and describe its client (not stored)."""
        if self.resolver is None:
            raise RegistrationRefused("federation is off")
        if again:
            self.resolver.forget(client_id)
        try:
            chain = self.resolver.chain(client_id, RELYING_PARTY)
        except TrustChainError as exc:
            raise RegistrationRefused(f"Trust Chain of {client_id}: {exc}") from None
        return client_from_chain(
            chain, now=now, max_age_seconds=self.settings.federation_chain_cache_seconds
        )

    def keep(self, session: Session, client: OAuthClient, *, now: datetime) -> OAuthClient:
        """Store a registration from :meth:`resolve` (insert, or refresh the automatic row);
        a client already in the session is returned as it is. A static client with the same
        id is never overwritten: then :class:`RegistrationRefused`."""
        if not inspect(client).transient:
            return client
        row = client_store.get_client(session, client_id=client.client_id)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(client)
                logger.info("automatic registration of %s", client.client_id)
                self.clients.forget(client.client_id)
                return client
            except IntegrityError:  # registered concurrently by another request
                row = client_store.get_client(session, client_id=client.client_id)
                if row is None:
                    raise RegistrationRefused("concurrent registration failed") from None
        if not is_automatic(row):
            raise RegistrationRefused(f"{client.client_id} is a statically registered client")
        for name in _COPIED:
            setattr(row, name, getattr(client, name))
        session.flush()
        logger.info("automatic registration of %s refreshed", client.client_id)
        self.clients.forget(client.client_id)
        return row

    def current(self, session: Session, client: OAuthClient, *, now: datetime) -> OAuthClient:
        """``client`` as it may be used now: as it is, or re-resolved and stored when its
        automatic registration expired (client authentication at the token endpoint)."""
        if registration_is_current(client, settings=self.settings, now=now):
            return client
        if not self.enabled:
            raise RegistrationRefused("automatic registrations need federation")
        return self.keep(session, self.resolve(client.client_id, now=now, again=True), now=now)
