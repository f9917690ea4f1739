"""The hash-chained audit log: appends from many threads form one chain, and any change,
removal or reordering is found by ``idp audit verify``, which names the first broken record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from idp.audit.log import AuditEvent, append, record_hash, verify_chain
from idp.storage.database import Database, create_database_engine
from idp.storage.models import AuditRecord
from tests.cli.helpers import Cli
from tests.helpers import DEMO_PASSWORD, add_citizen, log_in

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _append(database: Database, count: int) -> None:
    for number in range(count):
        with database.transaction() as session:
            append(
                session,
                event=AuditEvent.CONSENT_GRANTED,
                actor="citizen:1",
                now=NOW,
                citizen_id=1,
                client_id="portal",
                details={"number": number, "scopes": ["openid"]},
            )


def _report(database: Database):
    with database.transaction() as session:
        return verify_chain(session)


def test_an_untouched_chain_is_intact(database: Database) -> None:
    assert _report(database).first_broken is None  # empty
    _append(database, 5)
    report = _report(database)
    assert (report.records, report.first_broken, report.reason) == (5, None, None)


def test_a_changed_record_is_named(database: Database) -> None:
    _append(database, 5)
    with database.transaction() as session:
        session.execute(
            update(AuditRecord).where(AuditRecord.sequence == 3).values(details={"number": 99})
        )
    report = _report(database)
    assert report.first_broken == 3
    assert report.reason == "its content was changed"


def test_a_rewritten_record_with_a_recomputed_hash_breaks_the_next_link(
    database: Database,
) -> None:
    """A forger who recomputes the changed record's own hash still breaks the record after."""
    _append(database, 5)
    with database.transaction() as session:
        record = session.get(AuditRecord, 2)
        assert record is not None
        record.actor = "operator:someone-else"
        record.record_hash = record_hash(record.previous_hash, record)
    report = _report(database)
    assert report.first_broken == 3
    assert report.reason == "it does not follow the record before"


def test_a_removed_record_is_named(database: Database) -> None:
    _append(database, 5)
    with database.transaction() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.sequence == 2))
    report = _report(database)
    assert report.first_broken == 2
    assert report.reason == "a record is missing"


def test_records_cut_from_the_end_are_found(database: Database) -> None:
    _append(database, 5)
    with database.transaction() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.sequence >= 4))
    report = _report(database)
    assert report.first_broken == 4
    assert report.reason == "records at the end were removed"


def test_parallel_appends_form_one_chain(database: Database) -> None:
    """Eight threads, each with its own connection, append at once: no fork, no gap."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: _append(database, 10), range(8)))
    report = _report(database)
    assert (report.records, report.first_broken) == (80, None)
    with database.transaction() as session:
        sequences = session.scalars(select(AuditRecord.sequence).order_by(AuditRecord.sequence))
        assert list(sequences) == list(range(1, 81))


def test_audit_verify_command_reports_and_exits_non_zero_on_a_broken_chain(
    cli: Cli,
) -> None:
    database = Database(create_database_engine(cli.database_url))
    try:
        _append(database, 3)
        assert "intact (3 records)" in cli.ok("audit", "verify")
        assert cli.json("audit", "verify") == {
            "records": 3,
            "intact": True,
            "first_broken": None,
            "reason": None,
        }
        with database.transaction() as session:
            session.execute(update(AuditRecord).where(AuditRecord.sequence == 2).values(actor="x"))
    finally:
        database.dispose()
    result = cli.run("audit", "verify")
    assert result.exit_code == 1
    assert "broken at record 2: its content was changed" in result.stderr


def test_key_operations_are_audited_without_secrets(cli: Cli) -> None:
    created = cli.json("keys", "rotate")
    database = Database(create_database_engine(cli.database_url))
    try:
        with database.transaction() as session:
            records = session.scalars(select(AuditRecord).order_by(AuditRecord.sequence)).all()
            assert [record.event for record in records] == [AuditEvent.KEY_CHANGED] * 2
            assert {record.details["kid"] for record in records} == {key["kid"] for key in created}
            assert all(record.details["action"] == "created" for record in records)
            assert all("PRIVATE" not in str(record.details) for record in records)
    finally:
        database.dispose()


def test_a_login_is_audited_and_the_password_is_not(app, client: TestClient) -> None:
    provider = app.state.provider
    citizen_id = add_citizen(provider.database, provider.hasher)
    assert log_in(client).status_code == 303
    with provider.database.transaction() as session:
        logins = session.scalars(
            select(AuditRecord).where(AuditRecord.event == AuditEvent.LOGIN_SUCCEEDED)
        ).all()
        assert len(logins) == 1
        assert logins[0].citizen_id == citizen_id
        assert logins[0].details["method"] == "password"
        assert DEMO_PASSWORD not in str(logins[0].details)
        assert verify_chain(session).first_broken is None
