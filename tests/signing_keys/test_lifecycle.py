"""Key states over time: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idp.signing_keys.lifecycle import (
    DurationError,
    KeyView,
    effective_states,
    next_activation,
    parse_duration,
    prunable,
    settled_changes,
)
from idp.storage.models import KeyState

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def key(kid: str, state: str, *, alg: str = "RS256", created: datetime = T0, **kw) -> KeyView:
    return KeyView(
        kid=kid,
        alg=alg,
        state=state,
        created_at=created,
        activate_after=kw.get("activate_after"),
        activated_at=kw.get("activated_at", created if state == KeyState.CURRENT else None),
        retired_at=kw.get("retired_at"),
    )


def test_a_next_key_is_not_current_before_its_time() -> None:
    keys = [key("old", KeyState.CURRENT), key("new", KeyState.NEXT, activate_after=T0 + HOUR)]
    states = effective_states(keys, T0 + HOUR - timedelta(seconds=1))
    assert states["old"].state == KeyState.CURRENT
    assert states["new"].state == KeyState.NEXT
    assert next_activation(keys, T0) == T0 + HOUR


def test_a_next_key_becomes_current_by_itself_and_the_old_one_retires() -> None:
    keys = [key("old", KeyState.CURRENT), key("new", KeyState.NEXT, activate_after=T0 + HOUR)]
    states = effective_states(keys, T0 + HOUR)
    assert states["new"].state == KeyState.CURRENT
    assert states["new"].activated_at == T0 + HOUR
    assert states["old"].state == KeyState.RETIRED
    assert states["old"].retired_at == T0 + HOUR
    assert {change.kid for change in settled_changes(keys, T0 + HOUR)} == {"old", "new"}
    assert next_activation(keys, T0 + HOUR) is None


def test_algorithms_rotate_independently() -> None:
    keys = [
        key("rsa", KeyState.CURRENT),
        key("ec", KeyState.CURRENT, alg="ES256"),
        key("rsa2", KeyState.NEXT, activate_after=T0 + HOUR),
    ]
    states = effective_states(keys, T0 + 2 * HOUR)
    assert states["ec"].state == KeyState.CURRENT
    assert states["rsa2"].state == KeyState.CURRENT
    assert states["rsa"].state == KeyState.RETIRED


def test_a_manually_generated_next_key_waits_for_activation() -> None:
    keys = [key("old", KeyState.CURRENT), key("manual", KeyState.NEXT)]
    states = effective_states(keys, T0 + 1000 * HOUR)
    assert states["manual"].state == KeyState.NEXT
    assert states["old"].state == KeyState.CURRENT


def test_revoked_and_retired_keys_keep_their_state() -> None:
    keys = [
        key("cur", KeyState.CURRENT),
        key("gone", KeyState.REVOKED),
        key("ret", KeyState.RETIRED, retired_at=T0),
    ]
    states = effective_states(keys, T0 + HOUR)
    assert states["gone"].state == KeyState.REVOKED
    assert states["ret"].state == KeyState.RETIRED
    assert settled_changes(keys, T0 + HOUR) == []


def test_prunable_only_after_every_token_expired() -> None:
    retired = key("ret", KeyState.RETIRED, retired_at=T0)
    lifetime = timedelta(minutes=10)
    assert not prunable(
        retired, now=T0 + lifetime - timedelta(seconds=1), longest_token_lifetime=lifetime
    )
    assert prunable(retired, now=T0 + lifetime, longest_token_lifetime=lifetime)
    assert not prunable(
        key("cur", KeyState.CURRENT), now=T0 + 100 * HOUR, longest_token_lifetime=lifetime
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90d", 90 * 86400), ("24h", 86400), ("15m", 900), ("30s", 30), ("0", 0), ("2w", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "ninety days", "-5d", "5y", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError, match="is not valid"):
        parse_duration(text)
