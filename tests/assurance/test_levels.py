"""acr = min(verification level, authentication strength), named by the deployment's profile:
every verification level x authentication method, in both built-in profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idp.assurance.levels import AcrRequirement, acr_level, requested_requirement
from idp.assurance.methods import AuthMethod, live_methods, record_method, session_strength
from idp.assurance.profiles import EIDAS, IDURUGUAY
from idp.oidc.claims import parse_claims_parameter

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=10)

PASSWORD = frozenset({AuthMethod.PASSWORD})
PASSWORD_TOTP = frozenset({AuthMethod.PASSWORD, AuthMethod.TOTP})
PASSWORD_RECOVERY = frozenset({AuthMethod.PASSWORD, AuthMethod.RECOVERY_CODE})
CARD = frozenset({AuthMethod.CARD})
PASSWORD_CARD = frozenset({AuthMethod.PASSWORD, AuthMethod.CARD})

STRENGTH = {PASSWORD: 1, PASSWORD_TOTP: 2, PASSWORD_RECOVERY: 2, CARD: 3, PASSWORD_CARD: 3}

EIDAS_NAMES = {
    0: None,
    1: "http://eidas.europa.eu/LoA/low",
    2: "http://eidas.europa.eu/LoA/substantial",
    3: "http://eidas.europa.eu/LoA/high",
}

# (verification level, methods) -> expected level, written out rather than computed.
EXPECTED_LEVEL = {
    (0, PASSWORD): 0, (0, PASSWORD_TOTP): 0, (0, PASSWORD_RECOVERY): 0, (0, CARD): 0,
    (0, PASSWORD_CARD): 0,
    (1, PASSWORD): 1, (1, PASSWORD_TOTP): 1, (1, PASSWORD_RECOVERY): 1, (1, CARD): 1,
    (1, PASSWORD_CARD): 1,
    (2, PASSWORD): 1, (2, PASSWORD_TOTP): 2, (2, PASSWORD_RECOVERY): 2, (2, CARD): 2,
    (2, PASSWORD_CARD): 2,
    (3, PASSWORD): 1, (3, PASSWORD_TOTP): 2, (3, PASSWORD_RECOVERY): 2, (3, CARD): 3,
    (3, PASSWORD_CARD): 3,
}  # fmt: skip


def _methods_proven_now(methods: frozenset[AuthMethod]) -> dict[str, int]:
    recorded: dict[str, int] = {}
    for method in methods:
        recorded = record_method(recorded, method, now=NOW)
    return recorded


@pytest.mark.parametrize(("verification", "methods"), sorted(EXPECTED_LEVEL, key=str))
def test_acr_for_every_verification_level_and_method(
    verification: int, methods: frozenset[AuthMethod]
) -> None:
    strength = session_strength(_methods_proven_now(methods), now=NOW, step_up_lifetime=LIFETIME)
    assert strength == STRENGTH[methods]
    level = acr_level(verification=verification, authentication=strength)
    assert level == EXPECTED_LEVEL[(verification, methods)]
    assert IDURUGUAY.acr_for(level) == f"urn:iduruguay:nid:{level}"
    assert EIDAS.acr_for(level) == EIDAS_NAMES[level]


def test_amr_carries_rfc8176_values_and_the_profile_uris() -> None:
    assert IDURUGUAY.amr_for(PASSWORD) == ["pwd", "urn:iduruguay:am:password"]
    assert IDURUGUAY.amr_for(PASSWORD_TOTP) == [
        "pwd",
        "otp",
        "mfa",
        "urn:iduruguay:am:password",
        "urn:iduruguay:am:totp",
    ]
    assert IDURUGUAY.amr_for(CARD) == ["sc", "hwk", "pin", "mfa", "urn:iduruguay:am:ci"]
    assert EIDAS.amr_for(PASSWORD_TOTP) == ["pwd", "otp", "mfa"]


def test_an_elevation_lapses_after_its_lifetime_and_the_login_stays() -> None:
    proven = record_method(
        record_method({}, AuthMethod.PASSWORD, now=NOW - timedelta(hours=1)),
        AuthMethod.TOTP,
        now=NOW,
    )
    assert session_strength(proven, now=NOW + LIFETIME, step_up_lifetime=LIFETIME) == 2
    later = NOW + LIFETIME + timedelta(seconds=1)
    assert session_strength(proven, now=later, step_up_lifetime=LIFETIME) == 1
    assert live_methods(proven, now=later, step_up_lifetime=LIFETIME) == {AuthMethod.PASSWORD}
    card_only = record_method({}, AuthMethod.CARD, now=NOW)
    assert session_strength(card_only, now=later, step_up_lifetime=LIFETIME) == 1
    assert session_strength({}, now=NOW, step_up_lifetime=LIFETIME) == 0


def _requirement(acr_values: str | None = None, claims: str | None = None) -> AcrRequirement:
    return requested_requirement(
        IDURUGUAY, acr_values=acr_values, claims=parse_claims_parameter(claims)
    )


def test_requested_level_from_acr_values_and_essential_acr_claims() -> None:
    assert _requirement() == AcrRequirement(minimum_level=0, essential=False)
    # Any listed value satisfies: the lowest known level is the minimum.
    assert _requirement("urn:iduruguay:nid:3 urn:iduruguay:nid:2").minimum_level == 2
    # Unknown voluntary values ask for nothing.
    assert _requirement("urn:other:gold").minimum_level == 0
    essential = '{"id_token": {"acr": {"essential": true, "value": "urn:iduruguay:nid:3"}}}'
    assert _requirement(claims=essential) == AcrRequirement(minimum_level=3, essential=True)
    values = '{"id_token": {"acr": {"essential": true, "values": ["urn:iduruguay:nid:2"]}}}'
    assert _requirement("urn:iduruguay:nid:1", values).minimum_level == 2
    unknown = '{"id_token": {"acr": {"essential": true, "values": ["urn:other:gold"]}}}'
    assert _requirement(claims=unknown).satisfiable is False
    # Not essential and unknown: nothing required.
    voluntary = '{"id_token": {"acr": {"values": ["urn:other:gold"]}}}'
    assert _requirement(claims=voluntary).minimum_level == 0
