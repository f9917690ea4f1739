"""The regional minimum data set, the person identifier, amr and verified_claims."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from idp.federation.crossborder import (
    CrossBorderRefused,
    Refusal,
    consent_attributes,
    federated_amr,
    federated_verified_claims,
    map_claims,
    person_identifier,
    portal_claims,
)
from idp.federation.crossborder.claims_mapping import authenticated_at
from tests.federation.builder import NOW
from tests.federation_crossborder.kit import PEER_B, SECRET, TABLE, B, id_token_claims

TODAY = date(2027, 1, 15)
IDENTIFIER = re.compile(r"BR/UY/[A-Za-z0-9_-]{32}")


def mapped(**overrides: Any):  # type: ignore[no-untyped-def]
    return map_claims(
        id_token_claims(**overrides), peer=PEER_B, destination="UY", secret=SECRET, today=TODAY
    )


def refusal(**overrides: Any) -> Refusal:
    with pytest.raises(CrossBorderRefused) as info:
        mapped(**overrides)
    return info.value.reason


def test_the_minimum_data_set() -> None:
    data = mapped()
    assert data.given_name == "Maria"
    assert data.family_name == "da Silva"
    assert data.birthdate == "1990-04-01"
    assert data.nationality == "BR"
    assert IDENTIFIER.fullmatch(data.person_identifier)
    assert set(data.as_claims()) == {
        "given_name",
        "family_name",
        "birthdate",
        "nationality",
        "person_identifier",
    }


def test_names_are_normalised() -> None:
    data = mapped(given_name="  Maria   Clara ", family_name="Conceic\u0327a\u0303o")
    assert data.given_name == "Maria Clara"
    assert data.family_name == "Conceição"


@pytest.mark.parametrize("name", ["given_name", "family_name", "birthdate", "sub"])
def test_a_missing_mandatory_attribute_is_refused(name: str) -> None:
    assert refusal(**{name: None}) is Refusal.MISSING_CLAIM


@pytest.mark.parametrize("name", ["given_name", "family_name", "birthdate"])
def test_an_empty_mandatory_attribute_is_missing(name: str) -> None:
    assert refusal(**{name: "  " if name != "birthdate" else ""}) is Refusal.MISSING_CLAIM


@pytest.mark.parametrize(
    "birthdate",
    ["1990-02-30", "19900401", "1990-4-1", "1990-04-01T00:00:00", "2030-01-01", "1850-01-01", 1990],
)
def test_invalid_birthdates(birthdate: object) -> None:
    assert refusal(birthdate=birthdate) is Refusal.INVALID_CLAIM


def test_a_birthdate_without_a_year_is_missing_information() -> None:
    assert refusal(birthdate="0000-04-01") is Refusal.MISSING_CLAIM


@pytest.mark.parametrize("value", [["Maria"], "M\u0000ria", "x" * 201, "Ma\u202eria"])
def test_implausible_names(value: object) -> None:
    assert refusal(given_name=value) is Refusal.INVALID_CLAIM


def test_person_identifier_is_stable() -> None:
    assert mapped().person_identifier == mapped().person_identifier


def test_person_identifier_differs_per_destination_person_and_peer() -> None:
    def pid(**changes: str) -> str:
        values = {
            "peer_issuer": B,
            "peer_subject": "br-citizen-123",
            "origin": "BR",
            "destination": "UY",
        }
        values.update(changes)
        return person_identifier(secret=SECRET, **values)

    base = pid()
    assert base.startswith("BR/UY/")
    assert pid(destination="AR").startswith("BR/AR/")
    assert pid(destination="AR").split("/")[2] != base.split("/")[2]
    assert pid(peer_subject="br-citizen-124") != base
    assert pid(peer_issuer="https://other.example.gov.br") != base
    other_secret = person_identifier(
        peer_issuer=B,
        peer_subject="br-citizen-123",
        origin="BR",
        destination="UY",
        secret=b"another secret of at least 32 bytes....",
    )
    assert other_secret != base


def test_person_identifier_reveals_nothing_of_the_sub() -> None:
    subject = "12345678901"  # a CPF-like identifier
    value = person_identifier(
        peer_issuer=B, peer_subject=subject, origin="BR", destination="UY", secret=SECRET
    )
    assert subject not in value
    assert "1234" not in value.split("/")[2]


def test_person_identifier_refuses_weak_secrets_and_bad_countries() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        person_identifier(
            peer_issuer=B, peer_subject="s", origin="BR", destination="UY", secret=b"short"
        )
    with pytest.raises(ValueError, match="ISO 3166"):
        person_identifier(
            peer_issuer=B, peer_subject="s", origin="br", destination="UY", secret=SECRET
        )


def test_amr_shows_federation_and_keeps_only_registered_values() -> None:
    assert federated_amr(["pwd", "otp", "mfa", "urn:govbr:amr:app", 7]) == [
        "fed",
        "pwd",
        "otp",
        "mfa",
    ]
    assert federated_amr(None) == ["fed"]
    assert federated_amr(["fed", "pwd", "pwd"]) == ["fed", "pwd"]


def test_verified_claims_name_the_peer_as_source() -> None:
    claims = id_token_claims()
    element = federated_verified_claims(
        mapped(), peer=PEER_B, level=2, verified_at=authenticated_at(claims)
    )
    verification = element["verification"]
    assert verification["trust_framework"] == "eidas"
    assert verification["assurance_level"] == "substantial"
    assert verification["time"] == "2027-01-15T07:59:40Z"
    (evidence,) = verification["evidence"]
    assert evidence["type"] == "electronic_record"
    assert evidence["check_details"] == [{"check_method": "vcrypt"}]
    assert evidence["record"]["source"] == {
        "name": "gov.br",
        "country_code": "BR",
        "issuer": B,
    }
    assert element["claims"] == {
        "given_name": "Maria",
        "family_name": "da Silva",
        "birthdate": "1990-04-01",
        "nationalities": ["BR"],
    }


def test_verified_claims_only_the_requested_claims() -> None:
    element = federated_verified_claims(
        mapped(), peer=PEER_B, level=3, verified_at=NOW, claim_names=["family_name", "email"]
    )
    assert element["claims"] == {"family_name": "da Silva"}
    assert element["verification"]["assurance_level"] == "high"


def test_verified_claims_need_an_eidas_level_or_none() -> None:
    with pytest.raises(ValueError, match="eIDAS level"):
        federated_verified_claims(mapped(), peer=PEER_B, level=0, verified_at=NOW)
    element = federated_verified_claims(mapped(), peer=PEER_B, level=None, verified_at=NOW)
    assert "assurance_level" not in element["verification"]


def test_consent_attributes_in_the_citizens_language() -> None:
    data = mapped()
    lines = consent_attributes(data, locale="pt-BR")
    assert [line.name for line in lines] == [
        "given_name",
        "family_name",
        "birthdate",
        "nationality",
        "person_identifier",
    ]
    assert lines[0].label == "Nome"
    assert lines[3].value == "Brasil"
    assert lines[4].value == data.person_identifier
    assert consent_attributes(data, locale="en")[2].label == "Date of birth"


@pytest.mark.parametrize(
    ("profile", "level", "acr"),
    [
        ("iduruguay", 2, "urn:iduruguay:nid:2"),
        ("eidas", 3, "http://eidas.europa.eu/LoA/high"),
        ("eidas", None, None),
    ],
)
def test_portal_claims(profile: str, level: int | None, acr: str | None) -> None:
    peer_claims = id_token_claims()
    claims = portal_claims(
        mapped(), peer=PEER_B, peer_claims=peer_claims, level=level, table=TABLE, profile=profile
    )
    assert claims.get("acr") == acr
    assert claims["amr"] == ["fed", "pwd", "otp", "mfa"]
    assert claims["auth_time"] == peer_claims["auth_time"]
    assert claims["person_identifier"].startswith("BR/UY/")
    assert claims["nationality"] == "BR"
    source = claims["verified_claims"]["verification"]["evidence"][0]["record"]["source"]
    assert source["issuer"] == B
    assert "sub" not in claims


def test_authenticated_at_prefers_auth_time() -> None:
    assert authenticated_at({"auth_time": 5, "iat": 9}) == 5
    assert authenticated_at({"auth_time": "x", "iat": 9}) == 9
    with pytest.raises(CrossBorderRefused):
        authenticated_at({})
