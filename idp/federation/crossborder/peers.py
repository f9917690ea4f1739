"""The federation's foreign providers, as cross-border login uses and lists them.

A peer is an OpenID Provider whose Trust Chain resolved (``idp.federation.trust_chain``):
everything here comes from its *resolved* metadata (after the superiors' metadata and
policies were applied, OpenID Federation 1.0 section 6.1.4), never from what the peer says
about itself outside the chain.

- :func:`peer_from_trust_chain`: the :class:`Peer` (issuer, endpoints, keys, algorithms,
  ``federation_entity`` ``organization_name`` and ``country``) or ``peer_untrusted`` when the
  resolved metadata lacks what cross-border login needs.
- :func:`list_peers`: the entries of the login page ("log in with the identity of another
  country"), sorted by country name in the citizen's language, then by organization name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idp.federation.crossborder.errors import CrossBorderRefused, Refusal
from idp.federation.trust_chain import TrustChain

COUNTRY_CODE = re.compile(r"[A-Z]{2}")
LANGUAGES = ("es", "pt", "en")

COUNTRY_NAMES: dict[str, tuple[str, str, str]] = {
    "AR": ("Argentina", "Argentina", "Argentina"),
    "BO": ("Bolivia", "Bolívia", "Bolivia"),
    "BR": ("Brasil", "Brasil", "Brazil"),
    "CL": ("Chile", "Chile", "Chile"),
    "CO": ("Colombia", "Colômbia", "Colombia"),
    "CR": ("Costa Rica", "Costa Rica", "Costa Rica"),
    "CU": ("Cuba", "Cuba", "Cuba"),
    "DO": ("República Dominicana", "República Dominicana", "Dominican Republic"),
    "EC": ("Ecuador", "Equador", "Ecuador"),
    "GT": ("Guatemala", "Guatemala", "Guatemala"),
    "HN": ("Honduras", "Honduras", "Honduras"),
    "HT": ("Haití", "Haiti", "Haiti"),
    "MX": ("México", "México", "Mexico"),
    "NI": ("Nicaragua", "Nicarágua", "Nicaragua"),
    "PA": ("Panamá", "Panamá", "Panama"),
    "PE": ("Perú", "Peru", "Peru"),
    "PR": ("Puerto Rico", "Porto Rico", "Puerto Rico"),
    "PY": ("Paraguay", "Paraguai", "Paraguay"),
    "SV": ("El Salvador", "El Salvador", "El Salvador"),
    "UY": ("Uruguay", "Uruguai", "Uruguay"),
    "VE": ("Venezuela", "Venezuela", "Venezuela"),
    "ES": ("España", "Espanha", "Spain"),
    "PT": ("Portugal", "Portugal", "Portugal"),
    "US": ("Estados Unidos", "Estados Unidos", "United States"),
    "CA": ("Canadá", "Canadá", "Canada"),
}
"""ISO 3166-1 alpha-2 -> (es, pt, en) names: Latin America and the Caribbean, and the
countries with the closest ties to them. A code without an entry is shown as the code."""


def language_of(locale: str) -> str:
    """``es``, ``pt`` or ``en`` for a locale such as ``pt-BR`` (``en`` when unknown)."""
    language = locale.replace("_", "-").split("-")[0].lower()
    return language if language in LANGUAGES else "en"


def country_name(code: str, locale: str) -> str:
    names = COUNTRY_NAMES.get(code.upper())
    if names is None:
        return code.upper()
    return names[LANGUAGES.index(language_of(locale))]


def _sort_key(text: str) -> str:
    """Accents and case ignored (Perú sorts with Peru, Él with El), as a reader expects."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True, slots=True)
class Peer:
    """A foreign OpenID Provider as its resolved Trust Chain describes it."""

    issuer: str
    """Its Entity Identifier, which is also its OpenID Provider ``issuer``."""
    organization_name: str
    country: str
    """ISO 3166-1 alpha-2, upper case (``federation_entity.country``)."""
    authorization_endpoint: str
    token_endpoint: str
    jwks: Mapping[str, Any] | None
    """Inline ``jwks`` of the resolved metadata; None when it only has ``jwks_uri`` /
    ``signed_jwks_uri`` (then the caller fetches the keys and passes them in)."""
    jwks_uri: str | None
    id_token_signing_alg_values_supported: tuple[str, ...]
    request_object_signing_alg_values_supported: tuple[str, ...]
    acr_values_supported: tuple[str, ...] | None
    expires_at: int
    """When the Trust Chain behind this view expires (section 10.4)."""
    authorization_response_iss_parameter_supported: bool = False
    """RFC 9207: the peer puts ``iss`` in its authorization responses (then it must be there)."""


def _string(metadata: Mapping[str, Any], name: str, where: str) -> str:
    value = metadata.get(name)
    if not isinstance(value, str) or not value:
        raise CrossBorderRefused(Refusal.PEER_UNTRUSTED, f"{where} has no {name}")
    return value


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def peer_from_metadata(
    *,
    entity_id: str,
    provider: Mapping[str, Any],
    federation_entity: Mapping[str, Any],
    expires_at: int,
) -> Peer:
    """A :class:`Peer` from resolved ``openid_provider`` and ``federation_entity`` metadata."""
    where = f"the metadata of {entity_id}"
    issuer = _string(provider, "issuer", where)
    if issuer != entity_id:
        raise CrossBorderRefused(
            Refusal.PEER_UNTRUSTED, f"{where}: issuer {issuer!r} is not the Entity Identifier"
        )
    country = federation_entity.get("country")
    if not isinstance(country, str) or not COUNTRY_CODE.fullmatch(country):
        raise CrossBorderRefused(
            Refusal.PEER_UNTRUSTED, f"{where}: country {country!r} is not ISO 3166-1 alpha-2"
        )
    name = federation_entity.get("organization_name")
    if not isinstance(name, str) or not name.strip():
        name = issuer
    jwks = provider.get("jwks")
    jwks_uri = provider.get("jwks_uri")
    if not isinstance(jwks, dict):
        jwks = None
    if not isinstance(jwks_uri, str) or not jwks_uri:
        jwks_uri = None
    if jwks is None and jwks_uri is None:
        raise CrossBorderRefused(Refusal.PEER_UNTRUSTED, f"{where} has neither jwks nor jwks_uri")
    # OpenID Connect Discovery 1.0 section 3: the ID token algorithms are REQUIRED; we do not
    # guess RS256 for a peer that does not say.
    id_token_algs = _strings(provider.get("id_token_signing_alg_values_supported"))
    if not id_token_algs:
        raise CrossBorderRefused(
            Refusal.PEER_UNTRUSTED, f"{where} has no id_token_signing_alg_values_supported"
        )
    return Peer(
        issuer=issuer,
        organization_name=name.strip(),
        country=country,
        authorization_endpoint=_string(provider, "authorization_endpoint", where),
        token_endpoint=_string(provider, "token_endpoint", where),
        jwks=jwks,
        jwks_uri=jwks_uri,
        id_token_signing_alg_values_supported=id_token_algs,
        request_object_signing_alg_values_supported=_strings(
            provider.get("request_object_signing_alg_values_supported")
        )
        or (),
        acr_values_supported=_strings(provider.get("acr_values_supported")),
        expires_at=expires_at,
        authorization_response_iss_parameter_supported=(
            provider.get("authorization_response_iss_parameter_supported") is True
        ),
    )


def peer_from_trust_chain(chain: TrustChain) -> Peer:
    """The peer a resolved ``openid_provider`` Trust Chain describes."""
    if chain.entity_type != "openid_provider":
        raise CrossBorderRefused(
            Refusal.PEER_UNTRUSTED, f"the Trust Chain of {chain.entity_id} is not for a provider"
        )
    federation_entity = chain.all_metadata.get("federation_entity", {})
    return peer_from_metadata(
        entity_id=chain.entity_id,
        provider=chain.metadata,
        federation_entity=federation_entity if isinstance(federation_entity, dict) else {},
        expires_at=chain.expires_at,
    )


@dataclass(frozen=True, slots=True)
class PeerListing:
    """One entry of the login page."""

    issuer: str
    organization_name: str
    country: str
    country_name: str


def list_peers(
    chains: Iterable[TrustChain],
    *,
    locale: str,
    own_entity_id: str | None = None,
    now: int | None = None,
) -> list[PeerListing]:
    """The foreign providers to offer, sorted by country name in the citizen's language.

    Leaves out this provider itself, chains already expired at ``now``, and peers whose
    metadata cannot be used (they would only fail after the citizen chose them). One entry per
    issuer.
    """
    entries: dict[str, PeerListing] = {}
    for chain in chains:
        if chain.entity_id == own_entity_id or (now is not None and chain.is_expired(now)):
            continue
        try:
            peer = peer_from_trust_chain(chain)
        except CrossBorderRefused:
            continue
        entries[peer.issuer] = PeerListing(
            issuer=peer.issuer,
            organization_name=peer.organization_name,
            country=peer.country,
            country_name=country_name(peer.country, locale),
        )
    return sorted(
        entries.values(),
        key=lambda entry: (
            _sort_key(entry.country_name),
            _sort_key(entry.organization_name),
            entry.issuer,
        ),
    )


def find_peer(peers: Sequence[Peer], issuer: str) -> Peer:
    """The listed peer with ``issuer``, or ``peer_unknown`` (the citizen chose something that
    is not on the list: a stale page or a forged form)."""
    for peer in peers:
        if peer.issuer == issuer:
            return peer
    raise CrossBorderRefused(Refusal.PEER_UNKNOWN, f"{issuer!r} is not a peer of the federation")
