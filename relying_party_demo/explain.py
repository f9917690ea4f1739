"""Plain-language meaning of what the provider sends: ``acr`` and ``amr`` values (OIDC Core 2,
RFC 8176) and OAuth error codes (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6, OpenID Connect Core
Unmet Authentication Requirements 1.0).

Pure functions from values to translation keys; the pages translate the keys. Values the
portal does not know are shown as they are, with a key that says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IDURUGUAY_ACR = {level: f"urn:iduruguay:nid:{level}" for level in range(4)}
EIDAS_ACR = {
    1: "http://eidas.europa.eu/LoA/low",
    2: "http://eidas.europa.eu/LoA/substantial",
    3: "http://eidas.europa.eu/LoA/high",
}
LEVEL_OF_ACR = {
    value: level for table in (IDURUGUAY_ACR, EIDAS_ACR) for level, value in table.items()
}

AMR_KEYS = {
    "pwd": "amr.pwd",
    "fed": "amr.fed",
    "otp": "amr.otp",
    "mfa": "amr.mfa",
    "sc": "amr.sc",
    "hwk": "amr.hwk",
    "pin": "amr.pin",
    "urn:iduruguay:am:password": "amr.pwd",
    "urn:iduruguay:am:totp": "amr.otp",
    "urn:iduruguay:am:recovery": "amr.recovery",
    "urn:iduruguay:am:ci": "amr.card",
}

KNOWN_ERRORS = frozenset(
    {
        "access_denied",
        "login_required",
        "interaction_required",
        "consent_required",
        "unmet_authentication_requirements",
        "temporarily_unavailable",
        "server_error",
        "invalid_request",
        "invalid_scope",
        "unauthorized_client",
        "account_selection_required",
    }
)


@dataclass(frozen=True, slots=True)
class Explained:
    """A received value, and the translation key of its meaning (None: unknown value)."""

    value: str
    key: str | None


def level_of_acr(acr: object) -> int | None:
    """The assurance level (0..3) an ``acr`` value names, or None when it names none we know."""
    return LEVEL_OF_ACR.get(acr) if isinstance(acr, str) else None


def acr_value_for_level(level: int, supported: Sequence[str] | None) -> str:
    """The ``acr_values`` entry that asks for ``level`` in the provider's vocabulary
    (discovery ``acr_values_supported``); ID Uruguay's by default."""
    for table in (IDURUGUAY_ACR, EIDAS_ACR):
        value = table.get(level)
        if value is not None and (not supported or value in supported):
            return value
    return IDURUGUAY_ACR[level]


def explain_acr(acr: object) -> Explained | None:
    if not isinstance(acr, str) or not acr:
        return None
    level = level_of_acr(acr)
    return Explained(value=acr, key=f"acr.level.{level}" if level is not None else None)


def explain_amr(amr: object) -> list[Explained]:
    values: Iterable[object] = amr if isinstance(amr, list) else []
    return [Explained(value=v, key=AMR_KEYS.get(v)) for v in values if isinstance(v, str)]


def error_key(error: str) -> str:
    """The translation key of an OAuth error code's plain-language explanation."""
    return f"error.{error}" if error in KNOWN_ERRORS else "error.other"
