"""Key states over time, as pure functions of the key records and ``now``.

A key added by ``idp keys rotate`` is ``next`` with an ``activate_after`` time: it is published
in the JWKS at once, so that relying parties' caches hold it before it signs anything
(publish-ahead). When that time has passed it is *effectively* current and the previous current
key of its algorithm is effectively retired, in every worker at once, with no second command
and no write: every reader derives the same states from the same rows and clock. Commands
persist ("settle") these derived states when they run.

Retired keys stay published until every token they signed has expired (``prune`` removes them
after ``retired_at + longest token lifetime``); revoked keys disappear from the JWKS at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from idp.storage.models import KeyState

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """``90d``, ``24h``, ``15m``, ``30s``, ``2w`` or plain seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise DurationError(
            f"The duration {text!r} is not valid; use a number with s, m, h, d or w (e.g. 90d)."
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@dataclass(frozen=True, slots=True)
class KeyView:
    """The fields of a key record that the lifecycle rules read."""

    kid: str
    alg: str
    state: str
    created_at: datetime
    activate_after: datetime | None
    activated_at: datetime | None
    retired_at: datetime | None


def effective_states(keys: Iterable[KeyView], now: datetime) -> dict[str, KeyView]:
    """Each key with the state it has at ``now``.

    Per algorithm, the current key is the one with the latest activation time among the
    current keys and the ``next`` keys whose ``activate_after`` has passed; every other
    current key of that algorithm is retired at the moment its successor activated.
    """
    by_alg: dict[str, list[KeyView]] = {}
    result: dict[str, KeyView] = {}
    for key in keys:
        result[key.kid] = key
        by_alg.setdefault(key.alg, []).append(key)
    for alg_keys in by_alg.values():
        candidates: list[tuple[datetime, KeyView]] = []
        for key in alg_keys:
            if key.state == KeyState.CURRENT:
                candidates.append((key.activated_at or key.created_at, key))
            elif (
                key.state == KeyState.NEXT
                and key.activate_after is not None
                and key.activate_after <= now
            ):
                candidates.append((key.activate_after, key))
        if not candidates:
            continue
        candidates.sort(key=lambda item: (item[0], item[1].kid))
        winner_time, winner = candidates[-1]
        result[winner.kid] = replace(winner, state=KeyState.CURRENT, activated_at=winner_time)
        for activated, key in candidates[:-1]:
            successor_time = min(
                (time for time, _ in candidates if time > activated), default=winner_time
            )
            result[key.kid] = replace(
                key,
                state=KeyState.RETIRED,
                activated_at=activated,
                retired_at=successor_time,
            )
    return result


def settled_changes(keys: Sequence[KeyView], now: datetime) -> list[KeyView]:
    """The keys whose effective state differs from their stored one."""
    effective = effective_states(keys, now)
    return [effective[key.kid] for key in keys if effective[key.kid].state != key.state]


def next_activation(keys: Iterable[KeyView], now: datetime) -> datetime | None:
    """When the next pending key becomes current (readers refresh no later than that)."""
    pending = [
        key.activate_after
        for key in keys
        if key.state == KeyState.NEXT
        and key.activate_after is not None
        and key.activate_after > now
    ]
    return min(pending, default=None)


def prunable(key: KeyView, *, now: datetime, longest_token_lifetime: timedelta) -> bool:
    """A retired key can go once nothing it signed can still be valid."""
    return (
        key.state == KeyState.RETIRED
        and key.retired_at is not None
        and key.retired_at + longest_token_lifetime <= now
    )
