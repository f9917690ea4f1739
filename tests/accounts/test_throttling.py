"""The throttling policy: how long to wait after N failures, and the keys it counts under."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.accounts.throttling import (
    LoginThrottling,
    ThrottlePolicy,
    account_key,
    address_key,
)
from idp.config import Settings
from idp.storage.models import LoginFailureCounter

POLICY = ThrottlePolicy(
    threshold=5,
    base_delay=timedelta(seconds=30),
    max_delay=timedelta(seconds=900),
    window=timedelta(hours=1),
)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        (0, 0),
        (1, 0),
        (4, 0),  # no delay before the threshold
        (5, 30),  # the base delay at the threshold
        (6, 60),  # then doubling
        (7, 120),
        (8, 240),
        (9, 480),
        (10, 900),  # 960 capped at the maximum
        (11, 900),
        (1_000_000, 900),  # no overflow however many
    ],
)
def test_the_delay_table(failures: int, seconds: int) -> None:
    assert POLICY.delay_after(failures) == timedelta(seconds=seconds)


def test_a_threshold_of_one_delays_from_the_first_failure() -> None:
    strict = ThrottlePolicy(
        threshold=1,
        base_delay=timedelta(seconds=2),
        max_delay=timedelta(seconds=5),
        window=timedelta(minutes=1),
    )
    delays = [strict.delay_after(n).total_seconds() for n in range(5)]
    assert delays == [0, 2, 4, 5, 5]


def test_the_defaults_make_the_address_limit_far_higher_than_the_account_limit() -> None:
    """Many citizens share one address (a school, an office): it must not lock them all out."""
    throttling = LoginThrottling.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert throttling.account.threshold == 5
    assert throttling.address.threshold == 100
    assert throttling.account.base_delay == throttling.address.base_delay == timedelta(seconds=30)
    assert throttling.account.max_delay == timedelta(minutes=15)
    assert throttling.account.window == timedelta(hours=1)


def test_the_settings_reach_both_policies() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        login_account_failure_threshold=3,
        login_address_failure_threshold=40,
        login_backoff_base_seconds=10,
        login_backoff_max_seconds=70,
        login_failure_window_seconds=600,
    )
    throttling = LoginThrottling.from_settings(settings)
    assert throttling.account == ThrottlePolicy(
        threshold=3,
        base_delay=timedelta(seconds=10),
        max_delay=timedelta(seconds=70),
        window=timedelta(minutes=10),
    )
    assert throttling.address.threshold == 40
    assert throttling.address.delay_after(43) == timedelta(seconds=70)


def test_account_and_address_keys_never_collide() -> None:
    assert account_key("12345672") == "account:12345672"
    assert address_key("203.0.113.7") == "address:203.0.113.7"
    assert account_key("203.0.113.7") != address_key("203.0.113.7")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("2001:db8:1:2:3:4:5:6", "address:2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff::9", "address:2001:db8:1:2::/64"),  # the same /64
        ("[2001:db8::1]", "address:2001:db8::/64"),
        ("::ffff:203.0.113.7", "address:203.0.113.7"),  # IPv4-mapped counts as the IPv4
        ("testclient", "address:testclient"),  # not an IP address: used as given
    ],
)
def test_ipv6_clients_are_counted_per_64(address: str, key: str) -> None:
    """An IPv6 client can take a fresh address in its /64 for every attempt."""
    assert address_key(address) == key


def test_a_key_always_fits_the_counter_column() -> None:
    column_length = LoginFailureCounter.__table__.c.key.type.length
    assert len(address_key("x" * 1000)) <= column_length
    assert len(address_key("ffff:" * 7 + "ffff")) <= column_length
