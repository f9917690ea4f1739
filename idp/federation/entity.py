"""This provider as a federation Entity (OpenID Federation 1.0, sections 3, 5 and 8).

Pure builders of the claims this provider signs, from explicit inputs (settings, key sets,
``now``), and the one step that signs them with the current Federation Entity Key:

- :func:`entity_configuration_claims`: the Entity Configuration served at
  ``/.well-known/openid-federation`` (section 3.1 claims, section 9 endpoint): ``iss`` = ``sub``
  = the issuer, the Federation Entity Keys in ``jwks``, ``authority_hints`` for a leaf, and
  ``metadata`` per Entity Type (section 5): ``federation_entity`` (section 5.1.1), and for a
  leaf ``openid_provider`` (section 5.1.3, the OpenID Connect Discovery document) and
  ``openid_relying_party`` (section 5.1.2, for cross-border login as a relying party of peer
  providers, with automatic registration, section 12.1).
- :func:`subordinate_statement_claims`: what a Trust Anchor's fetch endpoint answers
  (section 8.1.2): ``iss`` the Trust Anchor, ``sub`` the Subordinate, its keys, metadata policy,
  constraints and ``source_endpoint``.

The ``openid_provider`` metadata announces Automatic Registration (section 12.1,
``client_registration_types_supported: ["automatic"]``, with request objects as the way
authorization requests are authenticated); ``idp.federation.registration`` implements it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idp.config import Settings
from idp.federation.statements import sign_entity_statement
from idp.oidc.discovery import provider_metadata
from idp.signing_keys.keyring import KeyRing

FETCH_ENDPOINT = "/federation/fetch"
"""Section 8.1: the Trust Anchor's fetch endpoint (``?sub=``)."""
LIST_ENDPOINT = "/federation/list"
"""Section 8.2: the Trust Anchor's list endpoint (``?entity_type=``)."""
RESOLVE_ENDPOINT = "/federation/resolve"
"""Section 8.3: the Trust Anchor's resolve endpoint."""
CALLBACK_PATH = "/federation/callback"
"""Where peer providers send citizens back in cross-border login (``redirect_uris``)."""

FEDERATION_SIGNING_ALG = "ES256"
LEAF = "leaf"
TRUST_ANCHOR = "trust_anchor"

FEDERATION_ENTITY = "federation_entity"
OPENID_PROVIDER = "openid_provider"
OPENID_RELYING_PARTY = "openid_relying_party"
ENTITY_TYPES = (
    FEDERATION_ENTITY,
    OPENID_PROVIDER,
    OPENID_RELYING_PARTY,
    "oauth_authorization_server",
    "oauth_client",
    "oauth_resource",
)
"""The Entity Types of section 5.1 that a Subordinate may be registered with."""


def organization_name(settings: Settings) -> str:
    return settings.federation_organization_name or f"Identity provider {settings.country}"


def federation_entity_metadata(settings: Settings) -> dict[str, Any]:
    """Section 5.1.1, plus ``country`` (ISO 3166-1 alpha-2), which peers use to label logins
    from this provider; a Trust Anchor also names its fetch and list endpoints."""
    metadata: dict[str, Any] = {
        "organization_name": organization_name(settings),
        "country": settings.country,
    }
    if settings.federation_role == TRUST_ANCHOR:
        metadata["federation_fetch_endpoint"] = settings.issuer + FETCH_ENDPOINT
        metadata["federation_list_endpoint"] = settings.issuer + LIST_ENDPOINT
        metadata["federation_resolve_endpoint"] = settings.issuer + RESOLVE_ENDPOINT
    return metadata


def relying_party_metadata(settings: Settings, *, oidc_jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Section 5.1.2: this provider as a relying party of peer providers (cross-border login),
    registering automatically (section 12.1) and authenticating with private_key_jwt."""
    return {
        "client_name": organization_name(settings),
        "application_type": "web",
        "redirect_uris": [settings.issuer + CALLBACK_PATH],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "client_registration_types": ["automatic"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": dict(oidc_jwks),
    }


def entity_configuration_claims(
    settings: Settings,
    *,
    now: int,
    federation_jwks: Mapping[str, Any],
    oidc_jwks: Mapping[str, Any],
    signing_algs: Sequence[str],
) -> dict[str, Any]:
    """The claims of this provider's Entity Configuration (sections 3 and 3.1)."""
    metadata: dict[str, Any] = {FEDERATION_ENTITY: federation_entity_metadata(settings)}
    if settings.federation_role == LEAF:
        metadata[OPENID_PROVIDER] = provider_metadata(settings, signing_algs=list(signing_algs))
        metadata[OPENID_RELYING_PARTY] = relying_party_metadata(settings, oidc_jwks=oidc_jwks)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": settings.issuer,
        "iat": now,
        "exp": now + settings.federation_statement_lifetime_seconds,
        "jwks": dict(federation_jwks),
        "metadata": metadata,
    }
    if settings.federation_role == LEAF and settings.federation_authority_hints:
        claims["authority_hints"] = list(settings.federation_authority_hints)
    return claims


@dataclass(frozen=True, slots=True)
class SubordinateView:
    """What a Subordinate Statement says about one Immediate Subordinate."""

    entity_id: str
    jwks: Mapping[str, Any]
    metadata_policy: Mapping[str, Any]
    constraints: Mapping[str, Any]
    metadata: Mapping[str, Any] | None
    entity_types: tuple[str, ...]


def subordinate_statement_claims(
    settings: Settings, *, subordinate: SubordinateView, now: int
) -> dict[str, Any]:
    """Section 8.1.2: the Subordinate Statement about ``subordinate``, issued by this Trust
    Anchor. Empty policies and constraints are left out rather than sent as ``{}``."""
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": subordinate.entity_id,
        "iat": now,
        "exp": now + settings.federation_statement_lifetime_seconds,
        "jwks": dict(subordinate.jwks),
        "source_endpoint": settings.issuer + FETCH_ENDPOINT,
    }
    if subordinate.metadata_policy:
        claims["metadata_policy"] = dict(subordinate.metadata_policy)
    if subordinate.constraints:
        claims["constraints"] = dict(subordinate.constraints)
    if subordinate.metadata:
        claims["metadata"] = dict(subordinate.metadata)
    return claims


def sign_statement(claims: dict[str, Any], *, keyring: KeyRing) -> str:
    """Sign with the current Federation Entity Key (``typ: entity-statement+jwt``, ``kid``)."""
    material = keyring.signing_material(FEDERATION_SIGNING_ALG)
    return sign_entity_statement(
        claims, private_key=material.private_key, kid=material.kid, alg=material.alg
    )


def signed_entity_configuration(
    settings: Settings, *, federation_keyring: KeyRing, oidc_keyring: KeyRing, now: int
) -> str:
    """The signed Entity Configuration of this provider."""
    claims = entity_configuration_claims(
        settings,
        now=now,
        federation_jwks=federation_keyring.jwks(),
        oidc_jwks=oidc_keyring.jwks(),
        signing_algs=oidc_keyring.signing_algorithms(),
    )
    return sign_statement(claims, keyring=federation_keyring)
