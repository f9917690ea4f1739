"""Verification evidence: email codes (functions and the /account/email page), the civil
registry match, operator checks, and the mailer. Codes are read from the outbox table."""

from __future__ import annotations

import re
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.accounts.passwords import PasswordHasher
from idp.accounts.registration import NewCitizen, create_citizen
from idp.assurance.email_verification import (
    MAX_ATTEMPTS,
    CodeOutcome,
    EmailError,
    EmailVerificationRefused,
    confirm_email_code,
    start_email_verification,
)
from idp.assurance.enrolment import (
    VerificationRefused,
    record_in_person_check,
    record_video_check,
)
from idp.assurance.mail import MailMessage, OutboxMailer, SmtpMailer, mailer_from_settings
from idp.assurance.registry import (
    DemoCivilRegistry,
    Mismatch,
    RegistryMismatch,
    comparable_name,
    match_registry,
)
from idp.config import Settings
from idp.storage import citizens as citizen_store
from idp.storage.database import Database, create_database_engine
from idp.storage.models import (
    Citizen,
    CivilRegistryRecord,
    EmailVerificationCode,
    IdentityVerification,
    OutboxMessage,
)
from tests.helpers import add_citizen, csrf_token_of, log_in

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EMAIL = "maria@example.uy"
CODE = re.compile(r"\b([0-9]{6})\b")


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def _citizen(
    database: Database,
    hasher: PasswordHasher,
    *,
    given_name: str = "María",
    family_name: str = "Rodríguez",
    birthdate: str = "1985-04-12",
    level: int = 0,
) -> int:
    with database.transaction() as session:
        citizen = create_citizen(
            session,
            request=NewCitizen(
                document_number="1.234.567-2",
                given_name=given_name,
                family_name=family_name,
                birthdate=birthdate,
                verification_level=level,
            ),
            password="correct horse battery",
            hasher=hasher,
            now=NOW,
        )
        return citizen.id


def _state(database: Database) -> dict[str, Any]:
    """What verification could change: the account, its evidence, its codes, the outbox."""
    with database.transaction() as session:
        citizen = session.scalars(select(Citizen)).one()
        return {
            "citizen": (citizen.email, citizen.email_verified, citizen.updated_at),
            "evidence": [
                (row.level, row.method, row.evidence_type, row.check_method)
                for row in session.scalars(select(IdentityVerification))
            ],
            "codes": [
                (row.id, row.attempts, row.used_at, row.expires_at)
                for row in session.scalars(select(EmailVerificationCode))
            ],
            "outbox": [row.id for row in session.scalars(select(OutboxMessage))],
        }


def _send(database: Database, citizen_id: int, *, now: datetime = NOW, email: str = EMAIL) -> str:
    """Ask for a code; the code as mailed (read from the outbox)."""
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        start_email_verification(
            session, citizen=citizen, email=email, mailer=OutboxMailer(), language="es", now=now
        )
        message = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert message.recipient == email
    match = CODE.search(message.body)
    assert match, message.body
    return match.group(1)


def _confirm(database: Database, citizen_id: int, code: str, *, now: datetime = NOW) -> Any:
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        return confirm_email_code(session, citizen=citizen, code=code, now=now)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# Email codes ---------------------------------------------------------------------------------


def test_a_mailed_code_proves_the_address_once_and_records_level_1(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    code = _send(database, citizen_id)
    with database.transaction() as session:
        (row,) = session.scalars(select(EmailVerificationCode)).all()
        assert code not in row.code_hash
        assert len(row.code_hash) == 64
        assert row.expires_at == NOW + timedelta(minutes=15)
        (message,) = session.scalars(select(OutboxMessage)).all()
        assert message.subject == "Su código de verificación"
        assert message.sent_at is None  # no SMTP server configured: outbox only

    check = _confirm(database, citizen_id, f"{code[:3]} {code[3:]}", now=NOW + timedelta(minutes=1))

    assert (check.outcome, check.email) == (CodeOutcome.CONFIRMED, EMAIL)
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert (citizen.email, citizen.email_verified) == (EMAIL, True)
        assert citizen_store.verification_level(session, citizen_id=citizen_id) == 1
        (evidence,) = session.scalars(select(IdentityVerification)).all()
        assert (evidence.level, evidence.method, evidence.evidence_type) == (
            1,
            "email",
            "electronic_record",
        )
        assert evidence.check_method == "data"
        assert evidence.attributes == {"email": EMAIL, "record_type": "email_address"}
    after = _state(database)

    # Single use: the same code again is refused and changes nothing.
    assert _confirm(database, citizen_id, code).outcome is CodeOutcome.NO_CODE
    assert _state(database) == after


def test_a_wrong_code_counts_one_attempt_and_changes_nothing_else(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    code = _send(database, citizen_id)
    before = _state(database)

    check = _confirm(database, citizen_id, _wrong(code))

    assert (check.outcome, check.attempts_left) == (CodeOutcome.WRONG_CODE, MAX_ATTEMPTS - 1)
    after = _state(database)
    assert after["codes"][0][1] == 1
    assert {**after, "codes": None} == {**before, "codes": None}


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef"])
def test_a_malformed_code_is_not_an_attempt(
    database: Database, hasher: PasswordHasher, typed: str
) -> None:
    citizen_id = _citizen(database, hasher)
    _send(database, citizen_id)
    before = _state(database)
    assert _confirm(database, citizen_id, typed).outcome is CodeOutcome.MALFORMED
    assert _state(database) == before


def test_five_wrong_attempts_burn_the_code(database: Database, hasher: PasswordHasher) -> None:
    citizen_id = _citizen(database, hasher)
    code = _send(database, citizen_id)
    outcomes = [_confirm(database, citizen_id, _wrong(code)).outcome for _ in range(MAX_ATTEMPTS)]
    assert outcomes == [CodeOutcome.WRONG_CODE] * (MAX_ATTEMPTS - 1) + [
        CodeOutcome.TOO_MANY_ATTEMPTS
    ]
    before = _state(database)

    # Even the right code is refused now, and the counter does not move past the limit.
    assert _confirm(database, citizen_id, code).outcome is CodeOutcome.TOO_MANY_ATTEMPTS
    assert _state(database) == before
    assert before["codes"][0][1] == MAX_ATTEMPTS
    assert before["evidence"] == []


def test_an_expired_code_is_refused_and_changes_nothing(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    code = _send(database, citizen_id)
    before = _state(database)

    check = _confirm(database, citizen_id, code, now=NOW + timedelta(minutes=15))

    assert check.outcome is CodeOutcome.EXPIRED
    assert _state(database) == before


def test_a_new_code_voids_the_previous_one(database: Database, hasher: PasswordHasher) -> None:
    citizen_id = _citizen(database, hasher)
    first = _send(database, citizen_id)
    second = _send(database, citizen_id, now=NOW + timedelta(minutes=1), email="m@example.org")
    later = NOW + timedelta(minutes=2)
    if first != second:
        assert _confirm(database, citizen_id, first, now=later).outcome is CodeOutcome.WRONG_CODE
    assert _confirm(database, citizen_id, second, now=later).outcome is CodeOutcome.CONFIRMED
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert citizen.email == "m@example.org"


def test_codes_per_hour_are_limited(database: Database, hasher: PasswordHasher) -> None:
    citizen_id = _citizen(database, hasher)
    for minute in range(5):
        _send(database, citizen_id, now=NOW + timedelta(minutes=minute))
    before = _state(database)
    with pytest.raises(EmailVerificationRefused) as refused:
        _send(database, citizen_id, now=NOW + timedelta(minutes=10))
    assert refused.value.reason is EmailError.TOO_MANY_CODES
    assert _state(database) == before
    _send(database, citizen_id, now=NOW + timedelta(minutes=61))  # an hour after the first


@pytest.mark.parametrize("address", ["", "maria", "maria@example", "a b@example.uy", "m\x00@x.uy"])
def test_an_invalid_address_gets_no_code(
    database: Database, hasher: PasswordHasher, address: str
) -> None:
    citizen_id = _citizen(database, hasher)
    before = _state(database)
    with pytest.raises(EmailVerificationRefused) as refused:
        _send(database, citizen_id, email=address)
    assert refused.value.reason is EmailError.INVALID_ADDRESS
    assert _state(database) == before


def test_an_account_above_level_1_gets_no_new_evidence(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher, level=2)
    code = _send(database, citizen_id)
    assert _confirm(database, citizen_id, code).outcome is CodeOutcome.CONFIRMED
    state = _state(database)
    assert [level for level, *_ in state["evidence"]] == [2]
    assert state["citizen"][:2] == (EMAIL, True)


# The civil registry ------------------------------------------------------------------------


def _registry_record(database: Database, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "document_country": "UY",
        "document_type": "ci",
        "document_number": "12345672",
        "given_name": "MARIA",
        "family_name": "rodriguez",
        "birthdate": date(1985, 4, 12),
        "nationality": "UY",
        "document_expires_on": date(2031, 1, 1),
        "deceased": False,
    }
    values.update(overrides)
    with database.transaction() as session:
        row = CivilRegistryRecord(**values)
        session.add(row)
        session.flush()
        return row.id


def _match(database: Database, citizen_id: int) -> IdentityVerification:
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        return match_registry(
            session, citizen=citizen, registry=DemoCivilRegistry(session), now=NOW
        )


def test_a_registry_match_ignores_accents_and_case_and_records_level_1(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    record_id = _registry_record(database)

    evidence = _match(database, citizen_id)

    assert (evidence.level, evidence.method, evidence.evidence_type, evidence.check_method) == (
        1,
        "registry_match",
        "electronic_record",
        "data",
    )
    assert evidence.verifier == "demo civil registry"
    assert evidence.attributes == {
        "registry": "demo civil registry",
        "registry_record_id": str(record_id),
        "nationality": "UY",
        "date_of_expiry": "2031-01-01",
    }
    assert (evidence.document_number, evidence.issuing_country) == ("12345672", "UY")


@pytest.mark.parametrize(
    ("record", "citizen", "reason"),
    [
        (None, {}, Mismatch.NOT_FOUND),
        ({"document_number": "23456783"}, {}, Mismatch.NOT_FOUND),
        ({"given_name": "Mariana"}, {}, Mismatch.NAME),
        ({"family_name": "Rodrigues"}, {}, Mismatch.NAME),
        ({"birthdate": date(1985, 4, 13)}, {}, Mismatch.BIRTHDATE),
        ({}, {"birthdate": ""}, Mismatch.BIRTHDATE),
        ({"deceased": True}, {}, Mismatch.DECEASED),
        ({"document_expires_on": date(2026, 11, 28)}, {}, Mismatch.DOCUMENT_EXPIRED),
    ],
)
def test_a_registry_mismatch_is_refused_and_records_nothing(
    database: Database,
    hasher: PasswordHasher,
    record: dict[str, Any] | None,
    citizen: dict[str, Any],
    reason: Mismatch,
) -> None:
    citizen_id = _citizen(database, hasher, **citizen)
    if record is not None:
        _registry_record(database, **record)
    before = _state(database)

    with pytest.raises(RegistryMismatch) as refused:
        _match(database, citizen_id)

    assert refused.value.reason is reason
    assert _state(database) == before


def test_a_document_expiring_today_still_matches(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    _registry_record(database, document_expires_on=NOW.date())
    assert _match(database, citizen_id).level == 1


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("José  María", "jose maria"),
        ("Pérez-Silva", "PEREZ SILVA"),
        ("O'Neill", "o neill"),
        ("Núñez", "NUNEZ"),
    ],
)
def test_names_compare_without_accents_case_hyphens_or_spacing(left: str, right: str) -> None:
    assert comparable_name(left) == comparable_name(right)


def test_different_names_stay_different() -> None:
    assert comparable_name("Ana") != comparable_name("Anna")


# Operator checks -----------------------------------------------------------------------------


def _with_citizen(database: Database, citizen_id: int, action: Any) -> Any:
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        return action(session, citizen)


def test_a_video_check_needs_a_registry_match_first(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    before = _state(database)

    def video(session: Any, citizen: Citizen) -> IdentityVerification:
        return record_video_check(
            session, citizen=citizen, operator="Laura Operadora", note=None, now=NOW
        )

    with pytest.raises(VerificationRefused, match="no civil registry match yet"):
        _with_citizen(database, citizen_id, video)
    assert _state(database) == before

    record_id = _registry_record(database)
    match = _match(database, citizen_id)
    evidence = _with_citizen(database, citizen_id, video)

    assert (evidence.level, evidence.method, evidence.evidence_type, evidence.check_method) == (
        2,
        "video",
        "document",
        "vri",
    )
    assert evidence.verifier == "Laura Operadora"
    assert evidence.attributes["registry_match_id"] == match.id
    assert evidence.attributes["registry_record_id"] == str(record_id)
    assert evidence.attributes["person_check"] == "pvr"
    with database.transaction() as session:
        assert citizen_store.verification_level(session, citizen_id=citizen_id) == 2


def test_an_in_person_check_records_level_3_with_the_document(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _citizen(database, hasher)
    evidence = _with_citizen(
        database,
        citizen_id,
        lambda session, citizen: record_in_person_check(
            session,
            citizen=citizen,
            operator="  Oficina   Central ",
            document_expires="2030-05-01",
            note="Original document seen.",
            now=NOW,
        ),
    )
    assert (evidence.level, evidence.method, evidence.evidence_type, evidence.check_method) == (
        3,
        "in_person",
        "document",
        "vpip",
    )
    assert evidence.verifier == "Oficina Central"
    assert evidence.note == "Original document seen."
    assert evidence.attributes == {"person_check": "pvp", "date_of_expiry": "2030-05-01"}
    assert (evidence.document_type, evidence.document_number) == ("ci", "12345672")


@pytest.mark.parametrize(
    ("operator", "expires", "message"),
    [
        ("Laura", "2026-11-28", "expired on 2026-11-28"),
        ("Laura", "31/12/2030", "not a valid date"),
        ("   ", "2030-01-01", "Give the name of the operator"),
        ("Laura\x07", "2030-01-01", "control characters"),
    ],
)
def test_a_refused_in_person_check_records_nothing(
    database: Database, hasher: PasswordHasher, operator: str, expires: str, message: str
) -> None:
    citizen_id = _citizen(database, hasher)
    before = _state(database)
    with pytest.raises(VerificationRefused, match=message):
        _with_citizen(
            database,
            citizen_id,
            lambda session, citizen: record_in_person_check(
                session,
                citizen=citizen,
                operator=operator,
                document_expires=expires,
                note=None,
                now=NOW,
            ),
        )
    assert _state(database) == before


# The mailer --------------------------------------------------------------------------------


class _SmtpServer:
    """A minimal SMTP server on a real socket (RFC 5321 commands only, no TLS), recording
    what it receives; enough to see smtplib hand a message over."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rwb") as stream:

            def reply(line: str) -> None:
                stream.write(f"{line}\r\n".encode())
                stream.flush()

            reply("220 test")
            while raw := stream.readline():
                command = raw.decode().strip().upper()
                if command.startswith("EHLO") or command.startswith("HELO"):
                    reply("250 test")
                elif command == "DATA":
                    reply("354 go on")
                    lines = []
                    while (line := stream.readline().decode()) not in (".\r\n", ""):
                        lines.append(line)
                    self.received.append("".join(lines))
                    reply("250 queued")
                elif command == "QUIT":
                    reply("221 bye")
                    return
                else:
                    reply("250 ok")

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


def test_smtp_mailer_writes_the_outbox_and_hands_the_message_over(
    sqlite_database_url: str,
) -> None:
    server = _SmtpServer()
    database = Database(create_database_engine(sqlite_database_url))
    try:
        mailer = SmtpMailer(
            host="127.0.0.1", port=server.port, sender="idp@example.uy", starttls=False
        )
        with database.transaction() as session:
            row = mailer.send(
                session, MailMessage(EMAIL, "Asunto", "Su código es 123456."), now=NOW
            )
            assert row.sent_at == NOW
        server.thread.join(timeout=5)
        (received,) = server.received
        assert "To: maria@example.uy" in received
        assert "Su c" in received or "=?utf-8?" in received
    finally:
        server.close()
        database.dispose()


def test_smtp_failure_keeps_the_message_unsent_in_the_outbox(sqlite_database_url: str) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here any more
    database = Database(create_database_engine(sqlite_database_url))
    try:
        mailer = SmtpMailer(host="127.0.0.1", port=port, sender="idp@example.uy")
        with database.transaction() as session:
            row = mailer.send(session, MailMessage(EMAIL, "Asunto", "Cuerpo"), now=NOW)
        with database.transaction() as session:
            stored = session.get(OutboxMessage, row.id)
            assert stored is not None
            assert stored.sent_at is None
    finally:
        database.dispose()


def test_the_mailer_follows_the_settings(settings_factory: Any, sqlite_database_url: str) -> None:
    assert isinstance(mailer_from_settings(settings_factory(sqlite_database_url)), OutboxMailer)
    smtp = mailer_from_settings(
        settings_factory(
            sqlite_database_url,
            smtp_host="mail.example.uy",
            smtp_port=2525,
            smtp_username="idp",
            smtp_password="secret",
            mail_from="identidad@example.uy",
        )
    )
    assert smtp == SmtpMailer(
        host="mail.example.uy",
        port=2525,
        sender="identidad@example.uy",
        username="idp",
        password="secret",
        starttls=True,
    )


# The /account/email page -------------------------------------------------------------------


def _outbox_code(app: FastAPI) -> str:
    with app.state.provider.database.transaction() as session:
        message = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    match = CODE.search(message.body)
    assert match
    return match.group(1)


def _page_state(app: FastAPI) -> dict[str, Any]:
    return _state(app.state.provider.database)


@pytest.fixture
def signed_in(app: FastAPI, client: TestClient) -> TestClient:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    assert log_in(client).status_code == 303
    return client


def test_email_page_needs_a_login(client: TestClient) -> None:
    response = client.get("/account/email", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_a_citizen_confirms_an_address_on_the_page(app: FastAPI, signed_in: TestClient) -> None:
    client = signed_in
    page = client.get("/account/email")
    assert page.status_code == 200
    assert '<label for="email">' in page.text
    assert 'name="code"' not in page.text  # no code asked for yet

    sent = client.post(
        "/account/email",
        data={"csrf_token": csrf_token_of(page), "email": f"  {EMAIL} "},
        follow_redirects=False,
    )
    assert (sent.status_code, sent.headers["location"]) == (303, "/account/email?sent=1")
    page = client.get("/account/email?sent=1")
    assert "Le enviamos un código" in page.text
    assert '<label for="code">' in page.text
    assert EMAIL in page.text

    confirmed = client.post(
        "/account/email/confirm",
        data={"csrf_token": csrf_token_of(page), "code": _outbox_code(app)},
        follow_redirects=False,
    )
    assert confirmed.headers["location"] == "/account/email?confirmed=1"
    assert (
        "Su correo electrónico quedó confirmado." in client.get(confirmed.headers["location"]).text
    )
    assert "Nivel 1" in client.get("/account").text
    assert _page_state(app)["citizen"][:2] == (EMAIL, True)


def test_a_wrong_code_on_the_page_says_how_many_attempts_are_left(
    app: FastAPI, signed_in: TestClient
) -> None:
    client = signed_in
    page = client.get("/account/email")
    client.post("/account/email", data={"csrf_token": csrf_token_of(page), "email": EMAIL})
    code = _outbox_code(app)

    wrong = client.post(
        "/account/email/confirm", data={"csrf_token": csrf_token_of(page), "code": _wrong(code)}
    )

    assert wrong.status_code == 400
    assert "El código no es correcto. Le quedan 4 intentos." in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert _page_state(app)["evidence"] == []


def test_too_many_attempts_on_the_page(app: FastAPI, signed_in: TestClient) -> None:
    client = signed_in
    page = client.get("/account/email")
    token = csrf_token_of(page)
    client.post("/account/email", data={"csrf_token": token, "email": EMAIL})
    code = _outbox_code(app)
    for _ in range(MAX_ATTEMPTS):
        last = client.post(
            "/account/email/confirm", data={"csrf_token": token, "code": _wrong(code)}
        )
    assert last.status_code == 429
    right = client.post("/account/email/confirm", data={"csrf_token": token, "code": code})
    assert right.status_code == 429
    assert "Hubo demasiados intentos con este código. Pida uno nuevo." in right.text
    assert _page_state(app)["evidence"] == []


def test_an_expired_code_on_the_page(app: FastAPI, signed_in: TestClient) -> None:
    client = signed_in
    page = client.get("/account/email")
    token = csrf_token_of(page)
    client.post("/account/email", data={"csrf_token": token, "email": EMAIL})
    code = _outbox_code(app)
    provider = app.state.provider
    real_clock = provider.clock
    provider.clock = lambda: real_clock() + timedelta(minutes=16)
    before = _page_state(app)

    expired = client.post("/account/email/confirm", data={"csrf_token": token, "code": code})

    assert expired.status_code == 400
    assert "El código venció. Pida uno nuevo." in expired.text
    assert _page_state(app) == before


@pytest.mark.parametrize(
    ("path", "data"),
    [("/account/email", {"email": EMAIL}), ("/account/email/confirm", {"code": "123456"})],
)
def test_email_forms_without_the_csrf_token_change_nothing(
    app: FastAPI, signed_in: TestClient, path: str, data: dict[str, str]
) -> None:
    client = signed_in
    page = client.get("/account/email")
    client.post("/account/email", data={"csrf_token": csrf_token_of(page), "email": EMAIL})
    before = _page_state(app)

    response = client.post(path, data=data, headers={"accept": "text/html"})

    assert response.status_code == 403
    assert _page_state(app) == before


def test_an_invalid_address_on_the_page(app: FastAPI, signed_in: TestClient) -> None:
    client = signed_in
    page = client.get("/account/email")
    before = _page_state(app)
    response = client.post(
        "/account/email", data={"csrf_token": csrf_token_of(page), "email": "maria@"}
    )
    assert response.status_code == 400
    assert "Escriba una dirección de correo electrónico válida" in response.text
    assert 'value="maria@"' in response.text
    assert _page_state(app) == before
