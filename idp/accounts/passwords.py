"""Password hashing with argon2id (RFC 9106) through argon2-cffi.

Parameters come from settings and are never below the OWASP minimum (m=19 MiB, t=2, p=1).
A stored hash made with weaker parameters is upgraded at the next successful login. Unknown
accounts are checked against a dummy hash so that the time taken does not reveal whether an
account exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.config import Settings

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
"""NIST SP 800-63B 5.1.1.2: at least 8 characters, allow at least 64; we cap only absurd input."""


class PasswordPolicyError(ValueError):
    """A new password does not meet the policy; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    valid: bool
    needs_rehash: bool = False


def check_password_policy(password: str) -> None:
    """Refuse a new password that is empty, too short or absurdly long."""
    if not password:
        raise PasswordPolicyError("The password must not be empty.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"The password must have at most {MAX_PASSWORD_LENGTH} characters."
        )
    if not _is_encodable(password):
        # Lone surrogates (e.g. undecodable bytes read with surrogateescape) cannot be hashed.
        raise PasswordPolicyError("The password must be valid Unicode text.")


def _is_encodable(password: str) -> bool:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class PasswordHasher:
    """argon2id hashing, verification, rehash detection and the dummy check."""

    def __init__(self, *, memory_cost_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            memory_cost_kib=settings.password_memory_cost_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        try:
            self._hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            return PasswordCheck(valid=False)
        except (VerificationError, InvalidHashError):
            return PasswordCheck(valid=False)
        except UnicodeEncodeError:
            # No stored hash can match text that has no UTF-8 form; never a server error.
            return PasswordCheck(valid=False)
        return PasswordCheck(valid=True, needs_rehash=self._hasher.check_needs_rehash(stored_hash))

    def verify_dummy(self, password: str) -> None:
        """Spend the same time as a real check, for accounts that do not exist."""
        self.verify(self._dummy_hash, password)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash("dummy password for timing equalisation")
