"""Password hashing with argon2id (RFC 9106) through argon2-cffi.

Parameters come from settings and are never below the OWASP minimum (m=19 MiB, t=2, p=1).
A stored hash made with weaker parameters is upgraded at the next successful login. Unknown
accounts are checked against a dummy hash so that the time taken does not reveal whether an
account exists.

Every hash and check runs on a small pool of threads of its own, ``IDP_PASSWORD_HASH_CONCURRENCY``
per process (default 1): each computation holds the memory cost (19 MiB) while it runs, and the
C allocator keeps a thread's freed block for that thread's next use. Run on whichever of the
request threads called it, 16 parallel logins held 300 MB or more in one worker, and did not
give it back; on dedicated threads the memory is bounded by concurrency x memory cost, and the
block is reused warm (no page faults). More concurrency than cores gains no throughput.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
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


_hashing_threads: dict[int, ThreadPoolExecutor] = {}
_hashing_threads_lock = threading.Lock()


def hashing_threads(concurrency: int) -> ThreadPoolExecutor:
    """The process's argon2id threads for this concurrency (one pool per value, shared by
    every hasher of the process, so the bound holds per process)."""
    with _hashing_threads_lock:
        pool = _hashing_threads.get(concurrency)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2id")
            _hashing_threads[concurrency] = pool
        return pool


class PasswordHasher:
    """argon2id hashing, verification, rehash detection and the dummy check."""

    def __init__(
        self, *, memory_cost_kib: int, time_cost: int, parallelism: int, concurrency: int = 1
    ) -> None:
        self._hasher = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._threads = hashing_threads(concurrency)

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            memory_cost_kib=settings.password_memory_cost_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
            concurrency=settings.password_hash_concurrency,
        )

    def hash(self, password: str) -> str:
        """A new argon2id hash (the caller's thread waits for a hashing thread)."""
        return self._threads.submit(self._hasher.hash, password).result()

    def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        """Check a password (the caller's thread waits for a hashing thread)."""
        return self._threads.submit(self._verify_here, stored_hash, password).result()

    def _verify_here(self, stored_hash: str, password: str) -> PasswordCheck:
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
        return self.hash("dummy password for timing equalisation")
