"""Appending to and verifying the hash-chained audit log.

Each record's hash is ``SHA-256(previous_hash || canonical JSON of the record)``; the first
record follows the genesis hash (64 zeros). Appends run inside the caller's transaction, so a
record exists exactly when the change it describes was committed. The single ``audit_head`` row
is updated first: that UPDATE takes the row's write lock (PostgreSQL) or the database's write
lock (SQLite), so concurrent appends from any number of workers queue up and form one chain.

Details never contain secrets: no passwords, codes, tokens or keys, only identifiers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from idp.storage.models import AuditHead, AuditRecord

GENESIS_HASH = "0" * 64
HEAD_ID = 1
VERIFY_BATCH = 1000


class AuditEvent:
    """Event names, one vocabulary for every writer."""

    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    STEP_UP = "login.step_up"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    DATA_SHARED = "data.shared"
    TOKEN_ISSUED = "token.issued"
    KEY_CHANGED = "key.changed"
    VERIFICATION_RECORDED = "verification.recorded"
    SIGNATURE_CREATED = "signature.created"
    SIGNATURE_REFUSED = "signature.refused"
    SIGNATURE_CREDENTIAL_ISSUED = "signature.credential_issued"
    SIGNATURE_CREDENTIAL_REVOKED = "signature.credential_revoked"
    FEDERATION_SUBORDINATE_CHANGED = "federation.subordinate_changed"
    FEDERATED_ACCOUNT_CREATED = "federation.account_created"
    FEDERATED_LOGIN_REFUSED = "federation.login_refused"


def _canonical(record: AuditRecord) -> bytes:
    document = {
        "sequence": record.sequence,
        "occurred_at": record.occurred_at.isoformat(),
        "event": record.event,
        "actor": record.actor,
        "citizen_id": record.citizen_id,
        "client_id": record.client_id,
        "details": record.details,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(previous_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + _canonical(record)).hexdigest()


_head = AuditHead.__table__.c
_ADVANCE_HEAD = (
    update(AuditHead.__table__)
    .where(_head.id == HEAD_ID)
    .values(sequence=_head.sequence + 1)
    .returning(_head.sequence, _head.last_hash)
)
_SEAL_HEAD = (
    update(AuditHead.__table__)
    .where(_head.id == HEAD_ID)
    .values(last_hash=bindparam("sealed_hash"))
)
_INSERT_RECORD = insert(AuditRecord.__table__)
"""An append's three statements, built once as Core statements: through the ORM, each UPDATE
would first be checked against the session's identity map (``synchronize_session``) and each
record flushed through the unit of work, which cost several times the statements themselves
on every login, consent and code issuance."""


def append(
    session: Session,
    *,
    event: str,
    actor: str,
    now: datetime,
    citizen_id: int | None = None,
    client_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add one record at the end of the chain, in the caller's transaction."""
    head = session.execute(_ADVANCE_HEAD).one()
    record = AuditRecord(
        sequence=head.sequence,
        occurred_at=now,
        event=event,
        actor=actor,
        citizen_id=citizen_id,
        client_id=client_id,
        details=details or {},
        previous_hash=head.last_hash,
    )
    record.record_hash = record_hash(head.last_hash, record)
    session.execute(
        _INSERT_RECORD,
        {
            "sequence": record.sequence,
            "occurred_at": record.occurred_at,
            "event": record.event,
            "actor": record.actor,
            "citizen_id": record.citizen_id,
            "client_id": record.client_id,
            "details": record.details,
            "previous_hash": record.previous_hash,
            "record_hash": record.record_hash,
        },
    )
    session.execute(_SEAL_HEAD, {"sealed_hash": record.record_hash})
    return record


@dataclass(frozen=True, slots=True)
class ChainReport:
    records: int
    first_broken: int | None
    """Sequence number of the first record whose link or hash does not hold."""
    reason: str | None


def _records(session: Session) -> Iterator[AuditRecord]:
    after = 0
    while True:
        batch = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.sequence > after)
            .order_by(AuditRecord.sequence)
            .limit(VERIFY_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].sequence
        session.expunge_all()


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain from the genesis hash and name the first record that breaks it: a
    changed record (its hash no longer matches), a removed or reordered one (a gap in the
    sequence, or a previous hash that is not the hash before it), or a chain cut short (the
    head names a later record than the last one found)."""
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    count = 0
    for record in _records(session):
        count += 1
        if record.sequence != expected_sequence:
            return ChainReport(count, expected_sequence, "a record is missing")
        if record.previous_hash != expected_previous:
            return ChainReport(count, record.sequence, "it does not follow the record before")
        if record_hash(record.previous_hash, record) != record.record_hash:
            return ChainReport(count, record.sequence, "its content was changed")
        expected_previous = record.record_hash
        expected_sequence += 1
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return ChainReport(count, None, "the chain's head row is missing")
    if head.sequence != expected_sequence - 1 or head.last_hash != expected_previous:
        return ChainReport(count, expected_sequence, "records at the end were removed")
    return ChainReport(count, None, None)
