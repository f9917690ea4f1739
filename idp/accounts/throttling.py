"""Failed-login throttling policy: how long to wait after N failures.

Pure functions; the counters live in the database (``idp.storage.login_failures``) so every
worker applies the same limits. The per-account limit is the strict one; the per-address limit
is far higher, so that many citizens behind one address are not locked out by one account.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from idp.config import Settings

MAX_RAW_ADDRESS_LENGTH = 100
"""The key column holds 120 characters; "address:" and 100 more always fit."""


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    threshold: int
    base_delay: timedelta
    max_delay: timedelta
    window: timedelta

    def delay_after(self, failures: int) -> timedelta:
        """Backoff once ``failures`` reaches the threshold, doubling up to ``max_delay``."""
        if failures < self.threshold:
            return timedelta(0)
        doublings = min(failures - self.threshold, 16)
        return min(self.base_delay * (2**doublings), self.max_delay)


@dataclass(frozen=True, slots=True)
class LoginThrottling:
    account: ThrottlePolicy
    address: ThrottlePolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottling:
        def policy(threshold: int) -> ThrottlePolicy:
            return ThrottlePolicy(
                threshold=threshold,
                base_delay=timedelta(seconds=settings.login_backoff_base_seconds),
                max_delay=timedelta(seconds=settings.login_backoff_max_seconds),
                window=timedelta(seconds=settings.login_failure_window_seconds),
            )

        return cls(
            account=policy(settings.login_account_failure_threshold),
            address=policy(settings.login_address_failure_threshold),
        )


def account_key(username: str) -> str:
    return f"account:{username}"


def address_key(address: str) -> str:
    """The throttling key of a client address.

    An IPv6 client usually holds a whole /64 and can pick a new address for every attempt, so
    IPv6 addresses are counted per /64; an IPv4-mapped IPv6 address counts as its IPv4 address.
    Anything that is not an IP address is used as given, cut to fit the key column.
    """
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return f"address:{address[:MAX_RAW_ADDRESS_LENGTH]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"address:{ip.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"address:{ip}"
