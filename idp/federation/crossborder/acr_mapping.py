"""Translating levels of assurance between federated providers, with eIDAS as the shared scale.

Each provider names its levels in its own vocabulary (``acr`` values, OpenID Connect Core
section 2). Cross-border login needs one scale that every member of the federation
understands: the eIDAS levels of assurance (Implementing Regulation (EU) 2015/1502), used here
as numbers: low = 1, substantial = 2, high = 3.

The :class:`AcrTable` says, for the operator:

- ``peer_levels``: a peer's ``acr`` value -> the shared level it is worth (what we accept from
  peers), optionally overridden per peer issuer (``by_issuer``) when one peer uses a value
  differently;
- ``local_acr``: per acr profile of this provider (``idp.assurance.profiles``), the shared
  level -> the local ``acr`` value the portal receives.

A peer value the table does not know maps to no level (:func:`map_peer_acr` returns None) and
counts as below ``low``: it never satisfies a request for a level, so a login from a peer whose
``acr`` we cannot interpret gets no level at all rather than a guessed one.

Defaults (:data:`DEFAULT_PEER_LEVELS`):

- the eIDAS URIs ``http://eidas.europa.eu/LoA/low|substantial|high``;
- ID Uruguay's ``urn:iduruguay:nid:1..3`` (``nid:0``, a self-registered account, is below
  ``low`` and is left out on purpose);
- a Brazilian gov.br-like set ``urn:govbr:nivel:bronze|prata|ouro`` -> low, substantial,
  high. Assumption: gov.br grades accounts bronze (self-declared data checked against
  government databases), prata (validated through a bank or facial biometrics) and ouro
  (biometrics of the electoral court or an ICP-Brasil certificate), but it publishes these
  grades through its own API, not as OIDC ``acr`` values; the URNs here are the names the
  federation's Brazilian peer is assumed to send. An operator whose peer uses other names
  changes the table, not the code.

The table is loaded from JSON (:func:`load_acr_table`) and refused at load time, with a
message that names the offending entry, when anything in it is not understood.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any

from idp.assurance.profiles import PROFILES
from idp.federation.crossborder.errors import CrossBorderRefused, Refusal


class EidasLevel(IntEnum):
    """The shared scale (eIDAS levels of assurance)."""

    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3


LEVEL_NAMES: dict[int, str] = {level.value: level.name.lower() for level in EidasLevel}
"""1 -> ``low``, 2 -> ``substantial``, 3 -> ``high`` (the IDA ``eidas`` assurance levels)."""

EIDAS_URIS: dict[int, str] = {
    level.value: f"http://eidas.europa.eu/LoA/{level.name.lower()}" for level in EidasLevel
}

GOVBR_LEVELS: dict[str, int] = {
    "urn:govbr:nivel:bronze": EidasLevel.LOW,
    "urn:govbr:nivel:prata": EidasLevel.SUBSTANTIAL,
    "urn:govbr:nivel:ouro": EidasLevel.HIGH,
}

DEFAULT_PEER_LEVELS: dict[str, int] = {
    **{uri: level for level, uri in EIDAS_URIS.items()},
    **{f"urn:iduruguay:nid:{level}": level for level in EidasLevel},
    **GOVBR_LEVELS,
}


class AcrTableError(ValueError):
    """The acr table (JSON or arguments) is not valid; the message names the entry."""


def _normalised(mapping: Mapping[str, int | str], where: str) -> Mapping[str, int]:
    """Read-only, with level names (``low``...) turned into numbers."""
    return MappingProxyType(
        {acr: _level(level, where=f"{where}[{acr!r}]") for acr, level in mapping.items()}
    )


@dataclass(frozen=True)
class AcrTable:
    """Peer acr value -> shared level, and shared level -> local acr per profile."""

    peer_levels: Mapping[str, int | str]
    local_acr: Mapping[str, Mapping[int, str]]
    by_issuer: Mapping[str, Mapping[str, int | str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_peer_levels(self.peer_levels, where="peer_acr")
        for issuer, levels in self.by_issuer.items():
            if not isinstance(issuer, str) or not issuer:
                raise AcrTableError("by_issuer: an issuer is not a non-empty string")
            _check_peer_levels(levels, where=f"by_issuer[{issuer!r}]")
        for profile, levels in self.local_acr.items():
            _check_local(profile, levels)
        object.__setattr__(self, "peer_levels", _normalised(self.peer_levels, "peer_acr"))
        object.__setattr__(
            self,
            "by_issuer",
            MappingProxyType(
                {
                    iss: _normalised(levels, f"by_issuer[{iss!r}]")
                    for iss, levels in self.by_issuer.items()
                }
            ),
        )
        object.__setattr__(
            self,
            "local_acr",
            MappingProxyType(
                {name: MappingProxyType(dict(levels)) for name, levels in self.local_acr.items()}
            ),
        )

    def levels_for(self, issuer: str | None) -> Mapping[str, int]:
        """The peer vocabulary that applies to ``issuer`` (its overrides win)."""
        levels: Mapping[str, int] = self.peer_levels  # type: ignore[assignment]
        if issuer is not None and issuer in self.by_issuer:
            return {**levels, **self.by_issuer[issuer]}  # type: ignore[dict-item]
        return levels

    def local_acr_for(self, profile: str, level: int) -> str | None:
        """The local ``acr`` of a shared level under ``profile``, or None (no level, or the
        profile has no name for it: then no ``acr`` is sent)."""
        table = self.local_acr.get(profile)
        if table is None:
            raise AcrTableError(f"the acr table has no mapping for profile {profile!r}")
        return table.get(level)


def _level(value: object, *, where: str) -> int:
    if isinstance(value, str) and value.lower() in LEVEL_NAMES.values():
        return EidasLevel[value.upper()].value
    if isinstance(value, int) and not isinstance(value, bool) and value in LEVEL_NAMES:
        return value
    raise AcrTableError(
        f"{where}: {value!r} is not an eIDAS level (low, substantial, high or 1, 2, 3)"
    )


def _check_peer_levels(levels: Mapping[str, int | str], *, where: str) -> None:
    if not isinstance(levels, Mapping):
        raise AcrTableError(f"{where} must be an object")
    for acr, level in levels.items():
        if not isinstance(acr, str) or not acr.strip() or acr != acr.strip():
            raise AcrTableError(f"{where}: {acr!r} is not an acr value")
        _level(level, where=f"{where}[{acr!r}]")


def _check_local(profile: str, levels: Mapping[int, str]) -> None:
    where = f"local_acr[{profile!r}]"
    if profile not in PROFILES:
        raise AcrTableError(f"{where}: unknown acr profile (known: {', '.join(sorted(PROFILES))})")
    known = PROFILES[profile]
    previous = 0
    for level in sorted(levels):
        _level(level, where=where)
        acr = levels[level]
        local_level = known.level_of(acr) if isinstance(acr, str) else None
        if local_level is None:
            raise AcrTableError(f"{where}[{level}]: {acr!r} is not an acr value of {profile}")
        if local_level > level:
            raise AcrTableError(
                f"{where}[{level}]: {acr!r} is level {local_level}, higher than the shared "
                f"level {level}: a mapping must never raise a level"
            )
        if local_level < previous:
            raise AcrTableError(f"{where}: the local levels must not decrease as levels rise")
        previous = local_level


def default_local_acr() -> dict[str, dict[int, str]]:
    """Each built-in profile's own name for levels 1..3 (level 0 has no shared level)."""
    return {
        name: {level: acr for level, acr in profile.acr_by_level.items() if level in LEVEL_NAMES}
        for name, profile in PROFILES.items()
    }


def default_acr_table() -> AcrTable:
    return AcrTable(peer_levels=DEFAULT_PEER_LEVELS, local_acr=default_local_acr())


_TOP_LEVEL = frozenset({"peer_acr", "local_acr", "by_issuer"})


def parse_acr_table(document: Any) -> AcrTable:
    """Build a table from its JSON form (already parsed).

    ``{"peer_acr": {ACR: LEVEL, ...}, "local_acr": {PROFILE: {LEVEL: ACR}}, "by_issuer":
    {ISSUER: {ACR: LEVEL}}}`` where LEVEL is ``low``/``substantial``/``high`` or 1/2/3 (a
    string ``"1"`` as the key of ``local_acr``). ``peer_acr`` is required; a missing
    ``local_acr`` means each profile's own names (:func:`default_local_acr`).
    """
    if not isinstance(document, dict):
        raise AcrTableError("the acr table must be a JSON object")
    unknown = set(document) - _TOP_LEVEL
    if unknown:
        raise AcrTableError(f"unknown member(s) in the acr table: {', '.join(sorted(unknown))}")
    peer_acr = document.get("peer_acr")
    if not isinstance(peer_acr, dict) or not peer_acr:
        raise AcrTableError("peer_acr must be a non-empty object: acr value -> eIDAS level")
    peer_levels = {
        acr: _level(level, where=f"peer_acr[{acr!r}]") for acr, level in peer_acr.items()
    }
    by_issuer_doc = document.get("by_issuer", {})
    if not isinstance(by_issuer_doc, dict):
        raise AcrTableError("by_issuer must be an object: issuer -> {acr value: eIDAS level}")
    by_issuer: dict[str, dict[str, int]] = {}
    for issuer, levels in by_issuer_doc.items():
        if not isinstance(levels, dict):
            raise AcrTableError(f"by_issuer[{issuer!r}] must be an object")
        by_issuer[issuer] = {
            acr: _level(level, where=f"by_issuer[{issuer!r}][{acr!r}]")
            for acr, level in levels.items()
        }
    local_doc = document.get("local_acr")
    if local_doc is None:
        local = default_local_acr()
    else:
        if not isinstance(local_doc, dict) or not local_doc:
            raise AcrTableError("local_acr must be a non-empty object: profile -> {level: acr}")
        local = {}
        for profile, levels in local_doc.items():
            if not isinstance(levels, dict):
                raise AcrTableError(f"local_acr[{profile!r}] must be an object")
            local[profile] = {
                _level(_key_level(level), where=f"local_acr[{profile!r}]"): acr
                for level, acr in levels.items()
            }
    return AcrTable(peer_levels=peer_levels, local_acr=local, by_issuer=by_issuer)


def _key_level(key: str) -> object:
    return int(key) if key.isdigit() else key


def load_acr_table(text: str | bytes) -> AcrTable:
    """Parse the JSON text of an acr table (e.g. a setting or a file), or raise
    :class:`AcrTableError`."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise AcrTableError(f"the acr table is not valid JSON: {exc}") from None
    return parse_acr_table(document)


# --- mapping ----------------------------------------------------------------------------------


def map_peer_acr(peer_acr: object, table: AcrTable, *, issuer: str | None = None) -> int | None:
    """The shared level of a peer's ``acr`` value, or None when absent or unknown."""
    if not isinstance(peer_acr, str):
        return None
    return table.levels_for(issuer).get(peer_acr)


def meets(requested_level: int, mapped: int | None) -> bool:
    """Whether a mapped level satisfies a request; nothing requested (0) is always met, and
    an unknown level (None) meets no request."""
    if requested_level <= 0:
        return True
    return mapped is not None and mapped >= requested_level


def require_level(
    peer_acr: object, *, requested_level: int, table: AcrTable, issuer: str | None = None
) -> int | None:
    """The mapped level, or ``CrossBorderRefused(level_too_low)`` when it does not meet the
    requested level."""
    mapped = map_peer_acr(peer_acr, table, issuer=issuer)
    if not meets(requested_level, mapped):
        raise CrossBorderRefused(
            Refusal.LEVEL_TOO_LOW,
            f"the peer's acr {peer_acr!r} maps to level {mapped}, "
            f"{LEVEL_NAMES.get(requested_level, requested_level)} was requested",
        )
    return mapped


def sufficient_peer_values(
    requested_level: int,
    table: AcrTable,
    *,
    issuer: str | None = None,
    supported: Collection[str] | None = None,
) -> list[str]:
    """The peer values worth at least ``requested_level``, lowest level first.

    With ``supported`` (the peer's ``acr_values_supported``), only values the peer announces,
    in its order within one level; otherwise in the table's order.
    """
    levels = table.levels_for(issuer)
    candidates = list(supported) if supported is not None else list(levels)
    order = {value: index for index, value in enumerate(candidates)}
    chosen = [
        value
        for value in candidates
        if isinstance(value, str) and levels.get(value, 0) >= max(requested_level, 1)
    ]
    return sorted(dict.fromkeys(chosen), key=lambda value: (levels[value], order[value]))


def peer_acr_for(
    requested_level: int,
    table: AcrTable,
    *,
    issuer: str | None = None,
    supported: Collection[str] | None = None,
) -> str | None:
    """The lowest peer value that maps at or above ``requested_level`` (the value forwarded
    in ``acr_values``), None when nothing is requested; ``level_too_low`` when the peer has
    no value high enough (the citizen is told before being sent away)."""
    if requested_level <= 0:
        return None
    values = sufficient_peer_values(requested_level, table, issuer=issuer, supported=supported)
    if not values:
        raise CrossBorderRefused(
            Refusal.LEVEL_TOO_LOW,
            f"the peer {issuer or '(any)'} has no acr value worth level {requested_level}",
        )
    return values[0]
