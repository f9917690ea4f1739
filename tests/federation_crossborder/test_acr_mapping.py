"""acr translation both ways through the shared eIDAS scale."""

from __future__ import annotations

import json

import pytest

from idp.federation.crossborder import (
    AcrTableError,
    CrossBorderRefused,
    Refusal,
    default_acr_table,
    load_acr_table,
    map_peer_acr,
    meets,
    peer_acr_for,
    require_level,
)
from idp.federation.crossborder.acr_mapping import sufficient_peer_values

TABLE = default_acr_table()
GOVBR = ["urn:govbr:nivel:bronze", "urn:govbr:nivel:prata", "urn:govbr:nivel:ouro"]


@pytest.mark.parametrize(
    ("acr", "level"),
    [
        ("http://eidas.europa.eu/LoA/low", 1),
        ("http://eidas.europa.eu/LoA/substantial", 2),
        ("http://eidas.europa.eu/LoA/high", 3),
        ("urn:iduruguay:nid:1", 1),
        ("urn:iduruguay:nid:2", 2),
        ("urn:iduruguay:nid:3", 3),
        ("urn:govbr:nivel:bronze", 1),
        ("urn:govbr:nivel:prata", 2),
        ("urn:govbr:nivel:ouro", 3),
        ("urn:iduruguay:nid:0", None),
        ("urn:govbr:nivel:diamante", None),
        ("http://eidas.europa.eu/LoA/HIGH", None),
        (None, None),
        (3, None),
    ],
)
def test_default_peer_levels(acr: object, level: int | None) -> None:
    assert map_peer_acr(acr, TABLE) == level


def test_meets() -> None:
    assert meets(0, None)
    assert meets(2, 2)
    assert meets(2, 3)
    assert not meets(2, 1)
    assert not meets(1, None)


def test_require_level_refuses_too_low() -> None:
    assert require_level("urn:govbr:nivel:ouro", requested_level=3, table=TABLE) == 3
    with pytest.raises(CrossBorderRefused) as info:
        require_level("urn:govbr:nivel:prata", requested_level=3, table=TABLE)
    assert info.value.reason is Refusal.LEVEL_TOO_LOW


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (1, "urn:govbr:nivel:bronze"),
        (2, "urn:govbr:nivel:prata"),
        (3, "urn:govbr:nivel:ouro"),
    ],
)
def test_lowest_sufficient_peer_value_is_forwarded(requested: int, expected: str) -> None:
    assert peer_acr_for(requested, TABLE, supported=list(reversed(GOVBR))) == expected


def test_only_values_the_peer_supports_are_forwarded() -> None:
    # a peer without "prata" gets "ouro" for substantial: the lowest that is enough
    supported = ["urn:govbr:nivel:bronze", "urn:govbr:nivel:ouro"]
    assert peer_acr_for(2, TABLE, supported=supported) == "urn:govbr:nivel:ouro"
    assert sufficient_peer_values(2, TABLE, supported=supported) == ["urn:govbr:nivel:ouro"]


def test_a_peer_with_nothing_high_enough_is_refused_before_the_redirect() -> None:
    with pytest.raises(CrossBorderRefused) as info:
        peer_acr_for(3, TABLE, supported=["urn:govbr:nivel:bronze", "urn:govbr:nivel:prata"])
    assert info.value.reason is Refusal.LEVEL_TOO_LOW


def test_nothing_requested_forwards_nothing() -> None:
    assert peer_acr_for(0, TABLE, supported=GOVBR) is None


def test_without_supported_values_the_table_order_decides_within_a_level() -> None:
    assert peer_acr_for(2, TABLE) == "http://eidas.europa.eu/LoA/substantial"


def test_local_acr_per_profile() -> None:
    assert TABLE.local_acr_for("iduruguay", 2) == "urn:iduruguay:nid:2"
    assert TABLE.local_acr_for("eidas", 3) == "http://eidas.europa.eu/LoA/high"
    assert TABLE.local_acr_for("eidas", 0) is None
    with pytest.raises(AcrTableError):
        TABLE.local_acr_for("nope", 1)


def test_round_trip_peer_to_local() -> None:
    for value in GOVBR:
        level = map_peer_acr(value, TABLE)
        assert level is not None
        assert TABLE.local_acr_for("iduruguay", level) == f"urn:iduruguay:nid:{level}"


def test_load_from_json_with_names_and_numbers() -> None:
    table = load_acr_table(
        json.dumps(
            {
                "peer_acr": {"urn:ar:mi:nivel3": "substantial", "urn:ar:mi:nivel4": 3},
                "local_acr": {
                    "iduruguay": {"1": "urn:iduruguay:nid:1", "high": "urn:iduruguay:nid:2"}
                },
                "by_issuer": {"https://id.example.cl": {"urn:ar:mi:nivel4": "low"}},
            }
        )
    )
    assert map_peer_acr("urn:ar:mi:nivel3", table) == 2
    assert map_peer_acr("urn:ar:mi:nivel4", table) == 3
    assert map_peer_acr("urn:ar:mi:nivel4", table, issuer="https://id.example.cl") == 1
    assert table.local_acr_for("iduruguay", 3) == "urn:iduruguay:nid:2"  # conservative
    assert table.local_acr_for("iduruguay", 2) is None


def test_missing_local_acr_means_the_profiles_own_names() -> None:
    table = load_acr_table('{"peer_acr": {"x": "low"}}')
    assert table.local_acr_for("eidas", 1) == "http://eidas.europa.eu/LoA/low"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"peer_acr": {}}', "non-empty"),
        ('{"peer_acr": {"x": "medium"}}', "peer_acr['x']: 'medium' is not an eIDAS level"),
        ('{"peer_acr": {"x": 4}}', "is not an eIDAS level"),
        ('{"peer_acr": {"x": true}}', "is not an eIDAS level"),
        ('{"peer_acr": {"x": 0}}', "is not an eIDAS level"),
        ('{"peer_acr": {" x": 1}}', "is not an acr value"),
        ('{"peer_acr": {"x": 1}, "extra": 1}', "unknown member(s) in the acr table: extra"),
        ('{"peer_acr": {"x": 1}, "local_acr": {"mine": {"1": "a"}}}', "unknown acr profile"),
        (
            '{"peer_acr": {"x": 1}, "local_acr": {"iduruguay": {"1": "urn:other:1"}}}',
            "is not an acr value of iduruguay",
        ),
        (
            '{"peer_acr": {"x": 1}, "local_acr": {"iduruguay": {"1": "urn:iduruguay:nid:3"}}}',
            "must never raise a level",
        ),
        (
            '{"peer_acr": {"x": 1}, "local_acr": {"iduruguay": '
            '{"2": "urn:iduruguay:nid:2", "3": "urn:iduruguay:nid:1"}}}',
            "must not decrease",
        ),
        ('{"peer_acr": {"x": 1}, "local_acr": {"eidas": {"5": "x"}}}', "not an eIDAS level"),
        ('{"peer_acr": {"x": 1}, "by_issuer": []}', "by_issuer must be an object"),
        ('{"peer_acr": {"x": 1}, "by_issuer": {"i": {"y": "top"}}}', "by_issuer['i']['y']"),
    ],
)
def test_invalid_tables_are_refused_at_load_time(document: str, message: str) -> None:
    with pytest.raises(AcrTableError) as info:
        load_acr_table(document)
    assert message in str(info.value)
