"""Creating and administering accounts: validation first, then the rows, and nothing on refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from idp.accounts.passwords import PasswordCheck, PasswordHasher
from idp.accounts.registration import (
    AccountError,
    NewCitizen,
    create_citizen,
    require_citizen,
    set_password,
    set_status,
)
from idp.storage import citizens as citizen_store
from idp.storage.database import Database
from idp.storage.models import Citizen, CitizenStatus, IdentityVerification
from tests.accounts.helpers import NOW, PASSWORD, USERNAME, add_citizen, count_rows

VALID = NewCitizen(
    document_number="1.234.567-2",
    given_name="  María   José ",
    family_name="Rodríguez",
    birthdate="1990-05-17",
    email=" maria@example.uy ",
    phone_number="+598 99 123 456",
    preferred_language="es",
)


def _create(database: Database, hasher: PasswordHasher, request: NewCitizen, **kwargs: Any) -> int:
    with database.transaction() as session:
        citizen = create_citizen(
            session,
            request=request,
            password=kwargs.pop("password", PASSWORD),
            hasher=hasher,
            now=NOW,
            **kwargs,
        )
        return citizen.id


def test_create_citizen_stores_the_normalised_account(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = _create(database, hasher, VALID)
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert citizen.username == citizen.document_number == USERNAME
        assert (citizen.document_type, citizen.document_country) == ("ci", "UY")
        assert (citizen.given_name, citizen.family_name) == ("María José", "Rodríguez")
        assert citizen.birthdate == date(1990, 5, 17)
        assert citizen.email == "maria@example.uy"
        assert citizen.email_verified is False
        assert citizen.phone_number == "+59899123456"
        assert citizen.preferred_language == "es"
        assert citizen.status == CitizenStatus.ACTIVE
        assert citizen.created_at == citizen.updated_at == NOW
        assert citizen.password_hash is not None
        assert PASSWORD not in citizen.password_hash
        assert hasher.verify(citizen.password_hash, PASSWORD) == PasswordCheck(valid=True)
    assert count_rows(database, IdentityVerification) == 0


def test_optional_fields_may_be_left_out(sqlite_database: Database, hasher: PasswordHasher) -> None:
    request = NewCitizen(
        document_number="AB123456",
        document_type="passport",
        document_country="ar",
        given_name="Ana",
        family_name="Pérez",
        birthdate="",
        email="  ",
        phone_number="",
    )
    citizen_id = _create(sqlite_database, hasher, request)
    with sqlite_database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert (citizen.username, citizen.document_country) == ("AB123456", "AR")
        assert (citizen.birthdate, citizen.email, citizen.phone_number) == (None, None, None)
        assert citizen.preferred_language is None


@pytest.mark.parametrize(
    ("changes", "password", "sentence"),
    [
        ({"document_number": "1.234.567-3"}, PASSWORD, "The cédula's check digit does not match"),
        ({"document_type": "licence"}, PASSWORD, "Unknown document type 'licence'"),
        ({"document_country": "URY"}, PASSWORD, "The issuing country must be a two-letter"),
        ({"given_name": "   "}, PASSWORD, "The given name must not be empty."),
        ({"family_name": ""}, PASSWORD, "The family name must not be empty."),
        ({"given_name": "A" * 201}, PASSWORD, "The given name must have at most 200 characters."),
        ({"family_name": "Rod\x00ríguez"}, PASSWORD, "The family name must not contain control"),
        ({"given_name": "Mar\x7fía"}, PASSWORD, "The given name must not contain control"),
        ({"given_name": "Mar\x9bía"}, PASSWORD, "The given name must not contain control"),
        ({"birthdate": "1990-13-01"}, PASSWORD, "The birthdate '1990-13-01' is not a valid date"),
        ({"birthdate": "17/05/1990"}, PASSWORD, "The birthdate '17/05/1990' is not a valid date"),
        ({"birthdate": "2025-03-02"}, PASSWORD, "The birthdate must not be in the future."),
        ({"birthdate": "1879-12-31"}, PASSWORD, "The birthdate is implausibly early."),
        ({"email": "maria@localhost"}, PASSWORD, "The email address 'maria@localhost' is not"),
        ({"email": "a@b@example.uy"}, PASSWORD, "The email address 'a@b@example.uy' is not"),
        ({"email": "m\x00@example.uy"}, PASSWORD, "The email address 'm\\x00@example.uy' is not"),
        ({"email": "a" * 310 + "@example.uy"}, PASSWORD, "The email address 'aaaa"),
        ({"phone_number": "099 123 456"}, PASSWORD, "The phone number must be in international"),
        ({"phone_number": "+0123456789"}, PASSWORD, "The phone number must be in international"),
        ({"preferred_language": "fr"}, PASSWORD, "The language must be one of es, pt, en."),
        ({"verification_level": 4}, PASSWORD, "The verification level must be 0, 1, 2 or 3."),
        ({"verification_level": -1}, PASSWORD, "The verification level must be 0, 1, 2 or 3."),
        ({}, "", "The password must not be empty."),
        ({}, "1234567", "The password must have at least 8 characters."),
        ({}, "x" * 1025, "The password must have at most 1024 characters."),
    ],
    ids=[
        "check-digit",
        "document-type",
        "country",
        "blank-given-name",
        "empty-family-name",
        "long-given-name",
        "nul-in-name",
        "del-in-name",
        "c1-control-in-name",
        "impossible-birthdate",
        "birthdate-format",
        "future-birthdate",
        "ancient-birthdate",
        "email-without-domain-dot",
        "email-two-ats",
        "email-with-nul",
        "email-too-long",
        "national-phone",
        "phone-leading-zero",
        "language",
        "level-too-high",
        "level-negative",
        "empty-password",
        "short-password",
        "long-password",
    ],
)
def test_a_refused_request_says_why_in_one_sentence_and_writes_nothing(
    sqlite_database: Database,
    hasher: PasswordHasher,
    changes: dict[str, Any],
    password: str,
    sentence: str,
) -> None:
    with sqlite_database.transaction() as session:  # committed: nothing may have been added
        with pytest.raises(AccountError) as refused:
            create_citizen(
                session,
                request=replace(VALID, **({"verification_level": 2} | changes)),
                password=password,
                hasher=hasher,
                now=NOW,
            )
        assert not session.new
    message = str(refused.value)
    assert message.startswith(sentence)
    assert message.endswith(".")
    assert "\n" not in message
    assert count_rows(sqlite_database, Citizen) == 0
    assert count_rows(sqlite_database, IdentityVerification) == 0


def test_the_birthdate_limits_are_inclusive(
    sqlite_database: Database, hasher: PasswordHasher
) -> None:
    today = NOW.date().isoformat()
    _create(sqlite_database, hasher, replace(VALID, birthdate=today))
    oldest = replace(VALID, document_number="2.345.678-3", birthdate="1880-01-01")
    _create(sqlite_database, hasher, oldest)
    assert count_rows(sqlite_database, Citizen) == 2


def test_a_second_account_for_the_same_document_is_refused(
    database: Database, hasher: PasswordHasher
) -> None:
    _create(database, hasher, VALID)
    with pytest.raises(AccountError) as refused:
        _create(database, hasher, replace(VALID, document_number="12345672", email=None))
    assert str(refused.value) == "An account with the username 12345672 already exists."
    assert count_rows(database, Citizen) == 1


@pytest.mark.parametrize(("level", "method"), [(1, "operator"), (2, "in_person"), (3, "in_person")])
def test_a_verification_level_writes_its_evidence(
    database: Database, hasher: PasswordHasher, level: int, method: str
) -> None:
    citizen_id = _create(
        database, hasher, replace(VALID, verification_level=level), verifier="oficina Centro"
    )
    with database.transaction() as session:
        records = session.scalars(select(IdentityVerification)).all()
        assert len(records) == 1
        record = records[0]
        assert record.citizen_id == citizen_id
        assert (record.level, record.method, record.verifier) == (level, method, "oficina Centro")
        assert (record.document_type, record.document_number, record.issuing_country) == (
            "ci",
            USERNAME,
            "UY",
        )
        assert record.verified_at == NOW
        assert record.note
        assert citizen_store.verification_level(session, citizen_id=citizen_id) == level


def test_level_zero_writes_no_evidence(database: Database, hasher: PasswordHasher) -> None:
    citizen_id = _create(database, hasher, VALID)
    assert count_rows(database, IdentityVerification) == 0
    with database.transaction() as session:
        assert citizen_store.verification_level(session, citizen_id=citizen_id) == 0


def test_the_verification_level_is_the_highest_record_of_the_account(
    database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(database, hasher, verification_level=1)
    other_id = add_citizen(database, hasher, document_number="2.345.678-3", verification_level=3)
    with database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        for level, days in ((3, 1), (2, 2)):  # a later, lower record does not lower the level
            citizen_store.add_verification(
                session,
                citizen=citizen,
                level=level,
                method="in_person",
                verifier="oficina",
                now=NOW + timedelta(days=days),
            )
    with database.transaction() as session:
        assert citizen_store.verification_level(session, citizen_id=citizen_id) == 3
        assert citizen_store.verification_level(session, citizen_id=other_id) == 3
        assert citizen_store.verification_level(session, citizen_id=999_999) == 0
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert [record.level for record in citizen.verifications] == [1, 3, 2]


def test_require_citizen_finds_the_account_as_typed(
    sqlite_database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(sqlite_database, hasher)
    with sqlite_database.transaction() as session:
        assert require_citizen(session, username="1.234.567-2").id == citizen_id
        assert require_citizen(session, username=" 12345672 ").id == citizen_id
        with pytest.raises(AccountError) as refused:
            require_citizen(session, username="9.876.543-2")
    assert str(refused.value) == "No account has the username '9.876.543-2'."


def test_set_status_reports_whether_it_changed_anything(
    sqlite_database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(sqlite_database, hasher)
    later = NOW + timedelta(days=1)
    with sqlite_database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert set_status(citizen, status=CitizenStatus.DISABLED, now=later) is True
        assert set_status(citizen, status=CitizenStatus.DISABLED, now=later) is False
    with sqlite_database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert (citizen.status, citizen.updated_at) == (CitizenStatus.DISABLED, later)


def test_set_password_applies_the_policy_and_replaces_the_hash(
    sqlite_database: Database, hasher: PasswordHasher
) -> None:
    citizen_id = add_citizen(sqlite_database, hasher)
    with sqlite_database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        original = citizen.password_hash
        with pytest.raises(AccountError) as refused:
            set_password(citizen, password="short", hasher=hasher, now=NOW)
        assert str(refused.value) == "The password must have at least 8 characters."
        assert citizen.password_hash == original

        set_password(citizen, password="a brand new passphrase", hasher=hasher, now=NOW)
    with sqlite_database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        assert citizen.password_hash is not None
        assert hasher.verify(citizen.password_hash, "a brand new passphrase").valid
        assert not hasher.verify(citizen.password_hash, PASSWORD).valid
