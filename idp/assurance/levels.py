"""The level a relying party sees: ``acr = min(verification level, authentication strength)``,
and the level a request asks for (``acr_values``, an essential ``acr`` in ``claims``).

Verification levels (a property of the account, each backed by evidence records):
0 self-registered; 1 contact details proven; 2 identity verified against the civil registry
plus an operator's video or in-person check; 3 certified (eID card certificate, or a
registration authority in person with the document in hand).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from idp.assurance.profiles import AcrProfile
from idp.oidc.claims import ClaimsRequest
from idp.storage.models import IdentityVerification

MAX_LEVEL = 3


def verification_level(records: Iterable[IdentityVerification]) -> int:
    """The account's level: the highest level among its evidence records (0 without any)."""
    return max((record.level for record in records), default=0)


def acr_level(*, verification: int, authentication: int) -> int:
    """Never higher than either: a strong login does not prove who the person is, and a
    certified identity is only as safe as the login that uses it."""
    return max(0, min(verification, authentication))


@dataclass(frozen=True, slots=True)
class AcrRequirement:
    """What a request asks for: the lowest level that satisfies it (any listed value is
    acceptable, OIDC Core 3.1.2.1), and whether it is essential (OIDC Core 5.5.1.1)."""

    minimum_level: int
    essential: bool
    satisfiable: bool = True
    """False when the request insisted on acr values this provider does not know."""


NO_REQUIREMENT = AcrRequirement(minimum_level=0, essential=False)


def _levels(profile: AcrProfile, values: Iterable[object]) -> list[int]:
    levels = []
    for value in values:
        if isinstance(value, str):
            level = profile.level_of(value)
            if level is not None:
                levels.append(level)
    return levels


def requested_requirement(
    profile: AcrProfile, *, acr_values: str | None, claims: ClaimsRequest
) -> AcrRequirement:
    """The requirement of an authorization request.

    ``acr_values`` (space-separated, in order of preference) is honoured as a minimum: the
    citizen steps up to the lowest listed level this provider knows; unknown values alone ask
    for nothing. An ``acr`` claim in the ID token request with ``essential: true`` and a
    ``value``/``values`` must be met; if none of its values is known, it can never be met.
    """
    requirement = NO_REQUIREMENT
    if acr_values:
        levels = _levels(profile, acr_values.split())
        if levels:
            requirement = AcrRequirement(minimum_level=min(levels), essential=False)
    claim = claims.id_token.get("acr")
    if claim is not None and (claim.value is not None or claim.values is not None):
        wanted = [claim.value] if claim.value is not None else list(claim.values or ())
        levels = _levels(profile, wanted)
        if claim.essential and not levels:
            return AcrRequirement(minimum_level=MAX_LEVEL, essential=True, satisfiable=False)
        if levels:
            minimum = max(requirement.minimum_level, min(levels))
            return AcrRequirement(minimum_level=minimum, essential=claim.essential)
    return requirement
