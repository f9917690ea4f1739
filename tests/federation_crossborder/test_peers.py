"""Peers from resolved Trust Chains, the login page list, and refused peers."""

from __future__ import annotations

import pytest

from idp.federation.crossborder import (
    CrossBorderRefused,
    Refusal,
    citizen_message,
    find_peer,
    from_trust_chain_error,
    list_peers,
    peer_from_trust_chain,
)
from idp.federation.crossborder.peers import country_name, language_of
from idp.federation.statements import TrustChainError
from tests.federation.builder import NOW, TA, Federation
from tests.federation_crossborder.kit import (
    PEER_B,
    A,
    B,
    b_provider_metadata,
    chain_of,
    federation,
)


def add_peer(fed: Federation, entity_id: str, country: str, name: str) -> None:
    fed.add(
        entity_id,
        authority_hints=[TA],
        metadata={
            "openid_provider": b_provider_metadata(issuer=entity_id),
            "federation_entity": {"organization_name": name, "country": country},
        },
    )
    fed.subordinate(TA, entity_id)


def test_peer_from_its_resolved_trust_chain() -> None:
    assert PEER_B.issuer == B
    assert PEER_B.country == "BR"
    assert PEER_B.organization_name == "gov.br"
    assert PEER_B.token_endpoint == f"{B}/token"
    assert PEER_B.expires_at > NOW


def test_the_superiors_policy_wins_over_the_peers_own_metadata() -> None:
    fed = federation()
    fed.subordinate(
        TA,
        B,
        metadata_policy={
            "openid_provider": {"acr_values_supported": {"subset_of": ["urn:govbr:nivel:ouro"]}}
        },
    )
    assert peer_from_trust_chain(chain_of(fed)).acr_values_supported == ("urn:govbr:nivel:ouro",)


@pytest.mark.parametrize(
    "broken",
    [
        {"country": None},
        {"country": "bra"},
        {"country": "br"},
    ],
)
def test_a_peer_without_a_country_is_untrusted(broken: dict) -> None:
    fed = federation()
    entity = fed.entities[B].metadata["federation_entity"]
    for name, value in broken.items():
        if value is None:
            entity.pop(name)
        else:
            entity[name] = value
    with pytest.raises(CrossBorderRefused) as info:
        peer_from_trust_chain(chain_of(fed))
    assert info.value.reason is Refusal.PEER_UNTRUSTED


@pytest.mark.parametrize(
    "missing", ["token_endpoint", "authorization_endpoint", "id_token_signing_alg_values_supported"]
)
def test_a_peer_without_what_login_needs_is_untrusted(missing: str) -> None:
    fed = federation(b_metadata=b_provider_metadata(**{missing: None}))
    with pytest.raises(CrossBorderRefused) as info:
        peer_from_trust_chain(chain_of(fed))
    assert info.value.reason is Refusal.PEER_UNTRUSTED


def test_login_page_list_sorted_by_country_name_in_the_citizens_language() -> None:
    fed = federation()
    add_peer(fed, "https://id.example.gob.ar", "AR", "Mi Argentina")
    add_peer(fed, "https://id.example.gob.pe", "PE", "Gob.pe")
    add_peer(fed, "https://id.example.gob.es", "ES", "Cl@ve")
    add_peer(fed, "https://id.example.org", "ZZ", "Nowhere")
    chains = [chain_of(fed, entity) for entity in fed.entities if entity != TA]
    spanish = list_peers(chains, locale="es-UY", own_entity_id=A, now=NOW)
    assert [entry.country_name for entry in spanish] == [
        "Argentina",
        "Brasil",
        "España",
        "Perú",
        "ZZ",
    ]
    english = list_peers(chains, locale="en", own_entity_id=A, now=NOW)
    assert [entry.country for entry in english] == ["AR", "BR", "PE", "ES", "ZZ"]
    assert english[1].country_name == "Brazil"
    assert english[1].organization_name == "gov.br"
    assert english[1].issuer == B
    portuguese = list_peers(chains, locale="pt_BR", own_entity_id=A, now=NOW)
    assert [entry.country_name for entry in portuguese] == [
        "Argentina",
        "Brasil",
        "Espanha",
        "Peru",
        "ZZ",
    ]
    assert A not in {entry.issuer for entry in spanish}


def test_expired_and_unusable_chains_are_not_listed() -> None:
    fed = federation()
    chain = chain_of(fed)
    assert list_peers([chain], locale="es", now=chain.expires_at) == []
    broken = federation(b_metadata=b_provider_metadata(token_endpoint=None))
    assert list_peers([chain_of(broken)], locale="es", now=NOW) == []


def test_a_peer_not_on_the_list_is_unknown() -> None:
    assert find_peer([PEER_B], B) is PEER_B
    with pytest.raises(CrossBorderRefused) as info:
        find_peer([PEER_B], "https://id.example.gob.cl")
    assert info.value.reason is Refusal.PEER_UNKNOWN


def refusal_for(fed: Federation, entity_id: str = B) -> CrossBorderRefused:
    with pytest.raises(TrustChainError) as info:
        chain_of(fed, entity_id)
    return from_trust_chain_error(info.value, peer=entity_id)


def test_an_unreachable_peer() -> None:
    refused = refusal_for(federation(), "https://id.example.gob.bo")
    assert refused.reason is Refusal.PEER_UNREACHABLE
    assert refused.oauth_error == "temporarily_unavailable"


def test_a_peer_removed_by_the_trust_anchor_is_refused() -> None:
    fed = federation()
    del fed.subordinate_claims[(TA, B)]
    assert refusal_for(fed).reason is Refusal.PEER_UNREACHABLE


def test_an_expired_peer() -> None:
    fed = federation()
    fed.entities[B].extra_claims["exp"] = NOW - 3600
    assert refusal_for(fed).reason is Refusal.PEER_EXPIRED


def test_a_badly_signed_peer() -> None:
    fed = federation()
    forged = fed.configuration_claims(B)
    fed.configuration_overrides[B] = fed.sign(forged, by=A)  # signed with A's key
    refused = refusal_for(fed)
    assert refused.reason is Refusal.PEER_UNTRUSTED
    assert refused.oauth_error == "access_denied"


def test_language_and_country_names() -> None:
    assert language_of("pt-BR") == "pt"
    assert language_of("fr") == "en"
    assert country_name("uy", "pt") == "Uruguai"
    assert country_name("XX", "es") == "XX"


@pytest.mark.parametrize("reason", list(Refusal))
def test_every_refusal_has_a_sentence_in_each_language(reason: Refusal) -> None:
    texts = {citizen_message(reason, language) for language in ("es", "pt", "en")}
    assert len(texts) == 3
    assert citizen_message(reason, "pt-BR") == citizen_message(reason, "pt")
    assert citizen_message(reason, "de") == citizen_message(reason, "en")
