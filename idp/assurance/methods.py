"""Authentication methods of a browser session and the strength they add up to.

A session records, for each method the citizen proved, the Unix time of the latest proof
(``BrowserSession.auth_methods``). Strength is a level 1..3 on the same scale as identity
verification:

- 1: any authenticated session (a password, or any stronger method proven at login);
- 2: two factors: a password plus a TOTP code (or a single-use recovery code), both recent;
- 3: the national eID card: possession of the card's private key, proven by signing a fresh
  challenge (the card's PIN protects the key).

Second factors are elevations: they count only for ``step_up_lifetime`` after their proof, so
an elevated session falls back to strength 1 by itself instead of keeping a high ``acr`` for
its whole life.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum


class AuthMethod(StrEnum):
    PASSWORD = "password"
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"
    CARD = "card"
    FEDERATION = "federation"
    """A peer provider of another country authenticated the citizen (cross-border login);
    the strength is the level its ``acr`` mapped to (``BrowserSession.federation``)."""


SECOND_FACTORS = frozenset({AuthMethod.TOTP, AuthMethod.RECOVERY_CODE})
LOGIN_METHODS = frozenset({AuthMethod.PASSWORD, AuthMethod.FEDERATION})
"""Methods that make a login (and last as long as the session); the others are elevations."""

RFC8176_VALUES: dict[AuthMethod, tuple[str, ...]] = {
    AuthMethod.PASSWORD: ("pwd",),
    AuthMethod.TOTP: ("otp",),
    AuthMethod.RECOVERY_CODE: (),
    AuthMethod.CARD: ("sc", "hwk", "pin"),
    AuthMethod.FEDERATION: (),
}
"""RFC 8176 values per method. A recovery code has no RFC 8176 value of its own (it is neither
an OTP device nor knowledge the citizen chose), so only the deployment's URI names it."""

BASE_STRENGTH = 1
TWO_FACTOR_STRENGTH = 2
CARD_STRENGTH = 3


def _proved_since(methods: Mapping[str, int], method: AuthMethod, since: datetime) -> bool:
    proved_at = methods.get(method.value)
    return isinstance(proved_at, int) and proved_at >= int(since.timestamp())


def live_methods(
    methods: Mapping[str, int] | None, *, now: datetime, step_up_lifetime: timedelta
) -> set[AuthMethod]:
    """Methods that still count now: the login's own methods always (the session's timeouts
    bound them), elevations only within ``step_up_lifetime`` of their proof."""
    if not methods:
        return set()
    elevated_since = now - step_up_lifetime
    live: set[AuthMethod] = set()
    for method in AuthMethod:
        if method.value not in methods:
            continue
        if method in LOGIN_METHODS or _proved_since(methods, method, elevated_since):
            live.add(method)
    return live


def strength_of(live: set[AuthMethod]) -> int:
    """The authentication strength (0..3) of a set of live methods."""
    if AuthMethod.CARD in live:
        return CARD_STRENGTH
    if AuthMethod.PASSWORD in live and live & SECOND_FACTORS:
        return TWO_FACTOR_STRENGTH
    return BASE_STRENGTH if live else 0


def session_strength(
    methods: Mapping[str, int] | None, *, now: datetime, step_up_lifetime: timedelta
) -> int:
    """Strength of a session now; an authenticated session is at least 1 even after its
    elevations lapsed (its login stands until the session's own timeouts)."""
    live = live_methods(methods, now=now, step_up_lifetime=step_up_lifetime)
    if not live and methods:
        return BASE_STRENGTH
    return strength_of(live)


def record_method(
    methods: Mapping[str, int] | None, method: AuthMethod, *, now: datetime
) -> dict[str, int]:
    """A new mapping with ``method`` proven at ``now`` (JSON columns need a new object for
    SQLAlchemy to see the change)."""
    updated = dict(methods or {})
    updated[method.value] = int(now.timestamp())
    return updated
