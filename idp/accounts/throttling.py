"""Failed-login throttling policy: how long to wait after N failures.

Pure functions; the counters live in the database (``idp.storage.login_failures``) so every
worker applies the same limits. The per-account limit is the strict one; the per-address limit
is far higher, so that many citizens behind one address are not locked out by one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from idp.config import Settings


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
    return f"address:{address}"
