"""acr and amr vocabularies: a deployment setting (``IDP_ACR_PROFILE``) with built-in profiles.

- ``iduruguay``: ID Uruguay's published values, ``urn:iduruguay:nid:0..3`` for the level and
  ``urn:iduruguay:am:password|totp|ci`` for the methods.
- ``eidas``: the eIDAS levels of assurance (Implementing Regulation 2015/1502),
  ``http://eidas.europa.eu/LoA/low|substantial|high`` for levels 1..3. Level 0 (a
  self-registered account, nothing proven) has no eIDAS level, so no ``acr`` is sent.

The level itself (0..3) is the provider's internal scale; a profile only names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from idp.assurance.methods import RFC8176_VALUES, SECOND_FACTORS, AuthMethod


@dataclass(frozen=True)
class AcrProfile:
    name: str
    acr_by_level: dict[int, str]
    amr_uris: dict[AuthMethod, str] = field(default_factory=dict)

    def acr_for(self, level: int) -> str | None:
        """The ``acr`` value of a level, or None when the profile has no name for it."""
        return self.acr_by_level.get(level)

    def level_of(self, acr: str) -> int | None:
        """The level an ``acr`` value names, or None for a value this profile does not know."""
        for level, value in self.acr_by_level.items():
            if value == acr:
                return level
        return None

    def supported_acr_values(self) -> list[str]:
        return [self.acr_by_level[level] for level in sorted(self.acr_by_level)]

    def amr_for(self, methods: Iterable[AuthMethod]) -> list[str]:
        """RFC 8176 values, ``mfa`` when factors of two kinds were used, and the profile's
        own URIs: what the ``amr`` claim carries."""
        chosen = set(methods)
        values: list[str] = []
        for method in AuthMethod:
            if method in chosen:
                values.extend(RFC8176_VALUES[method])
        if (AuthMethod.PASSWORD in chosen and chosen & SECOND_FACTORS) or (
            AuthMethod.CARD in chosen
        ):
            values.append("mfa")
        for method in AuthMethod:
            if method in chosen and method in self.amr_uris:
                values.append(self.amr_uris[method])
        return list(dict.fromkeys(values))


IDURUGUAY = AcrProfile(
    name="iduruguay",
    acr_by_level={level: f"urn:iduruguay:nid:{level}" for level in range(4)},
    amr_uris={
        AuthMethod.PASSWORD: "urn:iduruguay:am:password",
        AuthMethod.TOTP: "urn:iduruguay:am:totp",
        AuthMethod.RECOVERY_CODE: "urn:iduruguay:am:recovery",
        AuthMethod.CARD: "urn:iduruguay:am:ci",
    },
)

EIDAS = AcrProfile(
    name="eidas",
    acr_by_level={
        1: "http://eidas.europa.eu/LoA/low",
        2: "http://eidas.europa.eu/LoA/substantial",
        3: "http://eidas.europa.eu/LoA/high",
    },
)

PROFILES: dict[str, AcrProfile] = {profile.name: profile for profile in (IDURUGUAY, EIDAS)}
