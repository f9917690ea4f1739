"""TOTP as a second factor (RFC 6238), with single-use recovery codes and throttling.

- Codes: HMAC-SHA1, 6 digits, 30-second steps (RFC 6238 section 4; what authenticator apps
  use), computed by ``cryptography``'s TOTP. A code of the previous or the next step is also
  accepted (RFC 6238 section 5.2 allows one step of drift); nothing further.
- Replay: RFC 6238 section 5.2 says a verifier must not accept the same code twice. The last
  accepted step is stored, and a code is accepted only by a conditional UPDATE
  (``last_used_step IS NULL OR last_used_step < step``), so two workers cannot both accept it.
- Secrets are encrypted at rest with AES-256-GCM under a key derived by HKDF-SHA256 (RFC 5869)
  from the deployment's key passphrase; the citizen id is the associated data, so a secret
  copied to another citizen's row does not decrypt.
- Recovery codes: ten codes of 50 random bits, shown once, stored as HMAC-SHA-256 (keyed by
  HKDF from the same passphrase: 50 bits are too few to resist an offline search of a plain
  hash), each consumed by a conditional UPDATE on ``used_at IS NULL``.
- Throttling: every check of a second factor counts under ``second_factor:<citizen_id>`` in
  the shared failure counters *before* the code is compared, so parallel attempts queue on one
  counter row and no more than the threshold are ever compared before the backoff starts.

Outcomes are values (like ``idp.accounts.login``), so the failure counters are committed with
the response.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA1, SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from idp.accounts.throttling import ThrottlePolicy
from idp.assurance.methods import AuthMethod
from idp.config import Settings
from idp.storage import login_failures
from idp.storage.models import Citizen, RecoveryCode, TotpCredential

logger = logging.getLogger(__name__)

SECRET_BYTES = 20
"""160 bits: the length RFC 4226 section 4 recommends for HMAC-SHA1."""
DIGITS = 6
TIME_STEP_SECONDS = 30
ACCEPTED_DRIFT_STEPS = 1

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""32 symbols (5 bits each) without 0/O and 1/I, which people misread."""
RECOVERY_GROUP_LENGTH = 5
RECOVERY_GROUPS = 2
"""Two groups of five symbols: 50 bits, typed as ``ABCDE-FGHJK``."""

_SEALED_PREFIX = "v1."
_NONCE_BYTES = 12
_TOTP_KEY_LABEL = b"national-idp totp secret v1"
_RECOVERY_KEY_LABEL = b"national-idp recovery code v1"
_TYPING_SEPARATORS = str.maketrans("", "", " -\t")


# Keys ----------------------------------------------------------------------------------------
def _derive(passphrase: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=label).derive(passphrase)


@dataclass(frozen=True, slots=True)
class SecondFactorKeys:
    """Keys derived from the key passphrase, one per purpose (HKDF ``info`` label)."""

    totp_key: bytes
    recovery_key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> SecondFactorKeys:
        passphrase = settings.key_passphrase_bytes()
        return cls(
            totp_key=_derive(passphrase, _TOTP_KEY_LABEL),
            recovery_key=_derive(passphrase, _RECOVERY_KEY_LABEL),
        )

    def seal(self, secret: bytes, *, citizen_id: int) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self.totp_key).encrypt(nonce, secret, _associated_data(citizen_id))
        return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, citizen_id: int) -> bytes | None:
        """The secret, or None when it cannot be decrypted (another passphrase, another row)."""
        if not sealed.startswith(_SEALED_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix(_SEALED_PREFIX))
            return AESGCM(self.totp_key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated_data(citizen_id)
            )
        except (InvalidTag, ValueError):
            return None

    def recovery_hash(self, code: str, *, citizen_id: int) -> str:
        message = f"{citizen_id}:{code}".encode("ascii")
        return hmac.new(self.recovery_key, message, hashlib.sha256).hexdigest()


def _associated_data(citizen_id: int) -> bytes:
    return f"totp_credential:{citizen_id}".encode("ascii")


# Pure functions ------------------------------------------------------------------------------
def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_for_typing(secret: bytes) -> str:
    """The base32 secret in groups of four, for typing it into an app by hand."""
    text = base64.b32encode(secret).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _totp(secret: bytes) -> TOTP:
    # RFC 6238 with HMAC-SHA1: the algorithm every authenticator app supports.
    return TOTP(secret, DIGITS, SHA1(), TIME_STEP_SECONDS, enforce_key_length=True)  # noqa: S303


def issuer_label(settings: Settings) -> str:
    """The deployment as authenticator apps list it: the issuer's host name."""
    return urlsplit(settings.issuer).hostname or settings.issuer


def account_label(citizen: Citizen) -> str:
    """The document type and a masked document number: enough to tell accounts apart on a
    phone, not enough to disclose the number."""
    number = citizen.document_number
    visible = number[-3:] if len(number) > 3 else ""
    masked = "*" * (len(number) - len(visible)) + visible
    return f"{citizen.document_type.upper()} {masked}"


def provisioning_uri(secret: bytes, *, issuer: str, account: str) -> str:
    """The ``otpauth://totp/`` URI (Key Uri Format) that authenticator apps scan."""
    return _totp(secret).get_provisioning_uri(account, issuer)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // TIME_STEP_SECONDS


def matching_steps(secret: bytes, code: str, *, now: datetime) -> list[int]:
    """The accepted time steps (now, and one each side) whose code is ``code``."""
    totp = _totp(secret)
    current = time_step(now)
    matched = []
    for step in range(current - ACCEPTED_DRIFT_STEPS, current + ACCEPTED_DRIFT_STEPS + 1):
        try:
            totp.verify(code.encode("ascii"), step * TIME_STEP_SECONDS)
        except InvalidToken:
            continue
        matched.append(step)
    return matched


def code_at(secret: bytes, when: datetime) -> str:
    """The code an authenticator app shows at ``when``."""
    return _totp(secret).generate(when.timestamp()).decode("ascii")


def new_recovery_codes() -> list[str]:
    size = RECOVERY_GROUP_LENGTH * RECOVERY_GROUPS
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        symbols = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(size))
        groups = [
            symbols[i : i + RECOVERY_GROUP_LENGTH] for i in range(0, size, RECOVERY_GROUP_LENGTH)
        ]
        codes.append("-".join(groups))
    return codes


def totp_code_of(raw: str) -> str | None:
    """Six digits as typed (spaces allowed), or None."""
    compact = raw.translate(_TYPING_SEPARATORS)
    if len(compact) == DIGITS and compact.isascii() and compact.isdigit():
        return compact
    return None


def recovery_code_of(raw: str) -> str | None:
    """A recovery code as typed (any case, with or without the hyphen), normalised, or None."""
    compact = raw.translate(_TYPING_SEPARATORS).upper()
    if len(compact) == RECOVERY_GROUP_LENGTH * RECOVERY_GROUPS and all(
        symbol in RECOVERY_ALPHABET for symbol in compact
    ):
        return compact
    return None


def throttle_key(citizen_id: int) -> str:
    return f"second_factor:{citizen_id}"


# Outcomes ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SecondFactorAccepted:
    method: AuthMethod


@dataclass(frozen=True, slots=True)
class EnrolmentConfirmed:
    recovery_codes: list[str]


@dataclass(frozen=True, slots=True)
class WrongCode:
    """Not a code of this authenticator now, nor an unused recovery code."""


@dataclass(frozen=True, slots=True)
class CodeReused:
    """A right code of a step already used: a code is accepted once (RFC 6238 5.2)."""


@dataclass(frozen=True, slots=True)
class SecondFactorThrottled:
    retry_at: datetime


@dataclass(frozen=True, slots=True)
class NoAuthenticator:
    """Nothing to check against: no confirmed authenticator (or no enrolment in progress)."""


@dataclass(frozen=True, slots=True)
class EnrolmentStarted:
    secret: bytes


@dataclass(frozen=True, slots=True)
class AlreadyEnrolled:
    """A confirmed authenticator exists; replacing it needs a current code."""


Refusal = WrongCode | CodeReused | SecondFactorThrottled | NoAuthenticator
CheckOutcome = SecondFactorAccepted | Refusal
ConfirmOutcome = EnrolmentConfirmed | Refusal
StartOutcome = EnrolmentStarted | AlreadyEnrolled


# Storage -------------------------------------------------------------------------------------
def credential_of(db: Session, *, citizen_id: int) -> TotpCredential | None:
    return db.scalar(select(TotpCredential).where(TotpCredential.citizen_id == citizen_id))


def has_confirmed_totp(db: Session, *, citizen_id: int) -> bool:
    credential = credential_of(db, citizen_id=citizen_id)
    return credential is not None and credential.confirmed_at is not None


def unused_recovery_codes(db: Session, *, citizen_id: int) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.citizen_id == citizen_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def pending_secret(db: Session, *, citizen_id: int, keys: SecondFactorKeys) -> bytes | None:
    """The secret of an enrolment in progress (not yet confirmed), or None."""
    credential = credential_of(db, citizen_id=citizen_id)
    if credential is None or credential.confirmed_at is not None:
        return None
    return keys.open(credential.secret_encrypted, citizen_id=citizen_id)


def start_enrolment(
    db: Session, *, citizen_id: int, keys: SecondFactorKeys, now: datetime, replace: bool = False
) -> StartOutcome:
    """A new pending secret, replacing an unconfirmed one; a confirmed one only with
    ``replace`` (the caller has just checked a current code; the old recovery codes stay valid
    until the new authenticator is confirmed). One upsert, so a double click cannot fail."""
    secret = new_secret()
    sealed = keys.seal(secret, citizen_id=citizen_id)
    table = TotpCredential.__table__
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(citizen_id=citizen_id, secret_encrypted=sealed, created_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.citizen_id],
            set_={
                "secret_encrypted": sealed,
                "created_at": now,
                "confirmed_at": None,
                "last_used_step": None,
            },
            where=None if replace else table.c.confirmed_at.is_(None),
        )
        .returning(table.c.citizen_id)
    )
    written = db.execute(statement).scalar_one_or_none()
    _forget_loaded(db, citizen_id=citizen_id)
    if written is None:
        return AlreadyEnrolled()
    return EnrolmentStarted(secret=secret)


def _forget_loaded(db: Session, *, citizen_id: int) -> None:
    """Expire a loaded credential whose row a Core statement just changed."""
    loaded = db.identity_map.get(identity_key(TotpCredential, citizen_id))
    if loaded is not None:
        db.expire(loaded)


def _use_step(
    db: Session,
    *,
    credential: TotpCredential,
    sealed: str,
    step: int,
    confirmed: bool,
    confirm_at: datetime | None = None,
) -> bool:
    """Record ``step`` as used, only if no equal or later step was: one winner per code."""
    table = TotpCredential.__table__
    statement = (
        update(table)
        .where(table.c.citizen_id == credential.citizen_id)
        .where(table.c.secret_encrypted == sealed)
        .where(table.c.last_used_step.is_(None) | (table.c.last_used_step < step))
        .where(table.c.confirmed_at.is_not(None) if confirmed else table.c.confirmed_at.is_(None))
    )
    values: dict[str, object] = {"last_used_step": step}
    if confirm_at is not None:
        values["confirmed_at"] = confirm_at
    result = db.execute(statement.values(**values))
    _forget_loaded(db, citizen_id=credential.citizen_id)
    return isinstance(result, CursorResult) and result.rowcount == 1


def _check_totp(
    db: Session,
    *,
    credential: TotpCredential,
    keys: SecondFactorKeys,
    code: str,
    now: datetime,
    confirm: bool,
) -> SecondFactorAccepted | WrongCode | CodeReused:
    citizen_id = credential.citizen_id
    sealed = credential.secret_encrypted
    last_used = credential.last_used_step
    secret = keys.open(sealed, citizen_id=citizen_id)
    if secret is None:
        logger.error("TOTP secret of citizen %s cannot be decrypted", citizen_id)
        return WrongCode()
    steps = matching_steps(secret, code, now=now)
    if not steps:
        return WrongCode()
    fresh = [step for step in steps if last_used is None or step > last_used]
    if not fresh:
        return CodeReused()
    used = _use_step(
        db,
        credential=credential,
        sealed=sealed,
        step=min(fresh),
        confirmed=not confirm,
        confirm_at=now if confirm else None,
    )
    return SecondFactorAccepted(method=AuthMethod.TOTP) if used else CodeReused()


def _use_recovery_code(
    db: Session, *, citizen_id: int, code: str, keys: SecondFactorKeys, now: datetime
) -> bool:
    table = RecoveryCode.__table__
    result = db.execute(
        update(table)
        .where(table.c.citizen_id == citizen_id)
        .where(table.c.code_hash == keys.recovery_hash(code, citizen_id=citizen_id))
        .where(table.c.used_at.is_(None))
        .values(used_at=now)
    )
    return isinstance(result, CursorResult) and result.rowcount == 1


def _replace_recovery_codes(
    db: Session, *, citizen_id: int, keys: SecondFactorKeys, now: datetime
) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.citizen_id == citizen_id))
    codes = new_recovery_codes()
    for code in codes:
        db.add(
            RecoveryCode(
                code_hash=keys.recovery_hash(code.replace("-", ""), citizen_id=citizen_id),
                citizen_id=citizen_id,
                created_at=now,
            )
        )
    db.flush()
    return codes


def _throttled(
    db: Session,
    *,
    citizen_id: int,
    policy: ThrottlePolicy,
    now: datetime,
    check: Callable[[], SecondFactorAccepted | WrongCode | CodeReused],
) -> SecondFactorAccepted | WrongCode | CodeReused | SecondFactorThrottled:
    """Count the attempt, then check it; a success clears the count, a failure past the
    threshold starts the backoff.

    The count comes first: its upsert locks the counter row until this transaction ends, so
    parallel attempts on one citizen run one after the other, and each sees the block the one
    before it set (the block is read again after the count)."""
    key = throttle_key(citizen_id)
    blocked = login_failures.latest_block(db, keys=(key,), now=now)
    if blocked is not None:
        return SecondFactorThrottled(retry_at=blocked)
    failures = login_failures.count_failure(db, key=key, now=now, window=policy.window)
    blocked = login_failures.latest_block(db, keys=(key,), now=now)
    if blocked is not None:
        return SecondFactorThrottled(retry_at=blocked)
    outcome = check()
    if isinstance(outcome, SecondFactorAccepted):
        login_failures.clear(db, key=key)
        return outcome
    delay = policy.delay_after(failures)
    if delay:
        until = now + delay
        login_failures.block_until(db, key=key, until=until)
        return SecondFactorThrottled(retry_at=until)
    return outcome


# Flows ---------------------------------------------------------------------------------------
def verify_second_factor(
    db: Session,
    *,
    citizen_id: int,
    code: str,
    keys: SecondFactorKeys,
    policy: ThrottlePolicy,
    now: datetime,
) -> CheckOutcome:
    """Check a code from the confirmed authenticator, or an unused recovery code (``code``
    as typed; the caller has checked that it has the shape of one or the other)."""
    credential = credential_of(db, citizen_id=citizen_id)
    confirmed = credential if credential and credential.confirmed_at is not None else None
    if confirmed is None and unused_recovery_codes(db, citizen_id=citizen_id) == 0:
        return NoAuthenticator()

    def check() -> SecondFactorAccepted | WrongCode | CodeReused:
        totp_code = totp_code_of(code)
        if totp_code is not None:
            if confirmed is None:
                return WrongCode()
            return _check_totp(
                db, credential=confirmed, keys=keys, code=totp_code, now=now, confirm=False
            )
        recovery = recovery_code_of(code)
        if recovery is not None and _use_recovery_code(
            db, citizen_id=citizen_id, code=recovery, keys=keys, now=now
        ):
            return SecondFactorAccepted(method=AuthMethod.RECOVERY_CODE)
        return WrongCode()

    return _throttled(db, citizen_id=citizen_id, policy=policy, now=now, check=check)


def confirm_enrolment(
    db: Session,
    *,
    citizen_id: int,
    code: str,
    keys: SecondFactorKeys,
    policy: ThrottlePolicy,
    now: datetime,
) -> ConfirmOutcome:
    """Finish an enrolment with the first right code: the authenticator is confirmed, the
    code counts as a TOTP proof, and a new set of recovery codes replaces any older one."""
    credential = credential_of(db, citizen_id=citizen_id)
    totp_code = totp_code_of(code)
    if credential is None or credential.confirmed_at is not None:
        return NoAuthenticator()
    if totp_code is None:
        return WrongCode()
    pending = credential

    def check() -> SecondFactorAccepted | WrongCode | CodeReused:
        return _check_totp(db, credential=pending, keys=keys, code=totp_code, now=now, confirm=True)

    outcome = _throttled(db, citizen_id=citizen_id, policy=policy, now=now, check=check)
    if not isinstance(outcome, SecondFactorAccepted):
        return outcome
    codes = _replace_recovery_codes(db, citizen_id=citizen_id, keys=keys, now=now)
    return EnrolmentConfirmed(recovery_codes=codes)
