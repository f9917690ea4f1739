"""``idp users``: accounts created, shown, listed, disabled, enabled and re-passworded.

Every refusal is checked for its exit code, its one sentence on stderr, an empty stdout (also
with ``--json``) and an unchanged database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from idp.accounts.passwords import PasswordHasher
from idp.config import Settings
from tests.cli.helpers import PASSWORD, Cli, create_user, row_counts

DOCUMENT_FIELDS = {
    "id",
    "username",
    "document_type",
    "document_country",
    "document_number",
    "given_name",
    "family_name",
    "birthdate",
    "email",
    "email_verified",
    "phone_number",
    "preferred_language",
    "status",
    "verification_level",
    "created_at",
    "updated_at",
}
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def stored_hash(cli: Cli, username: str = "12345672") -> str:
    (row,) = [row for row in cli.citizen_rows() if row["username"] == username]
    return str(row["password_hash"])


def citizen_row(cli: Cli, username: str = "12345672") -> dict[str, Any]:
    (row,) = [row for row in cli.citizen_rows() if row["username"] == username]
    return row


# users create -------------------------------------------------------------------------------


def test_create_prints_one_json_document_and_stores_the_account(
    cli: Cli, hasher: PasswordHasher
) -> None:
    before = datetime.now(UTC)
    document = create_user(
        cli,
        "1.234.567-2",
        "--birthdate",
        "1985-04-12",
        "--email",
        "maria.rodriguez@example.uy",
        "--phone",
        "+598 99 123 456",
        "--language",
        "es",
    )

    assert set(document) == DOCUMENT_FIELDS  # and so never the password hash
    assert isinstance(document["id"], int)
    assert {key: value for key, value in document.items() if key != "id"} == {
        "username": "12345672",
        "document_type": "ci",
        "document_country": "UY",
        "document_number": "12345672",
        "given_name": "María",
        "family_name": "Rodríguez",
        "birthdate": "1985-04-12",
        "email": "maria.rodriguez@example.uy",
        "email_verified": False,
        "phone_number": "+59899123456",
        "preferred_language": "es",
        "status": "active",
        "verification_level": 0,
        "created_at": document["created_at"],
        "updated_at": document["created_at"],
    }
    created_at = datetime.fromisoformat(document["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert before <= created_at <= datetime.now(UTC)

    assert row_counts(cli) == {"citizen": 1, "identity_verification": 0, "signing_key": 0}
    password_hash = stored_hash(cli)
    assert password_hash.startswith("$argon2id$")
    assert hasher.verify(password_hash, PASSWORD).valid
    # What was printed is what was stored: show reads it back from the database.
    assert cli.json("users", "show", "12345672") == document


def test_create_without_json_prints_one_sentence(sqlite_cli: Cli) -> None:
    stdout = sqlite_cli.ok(
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )
    (row,) = sqlite_cli.citizen_rows()
    assert stdout == f"Created the account 12345672 (id {row['id']}).\n"
    assert PASSWORD not in stdout


@pytest.mark.parametrize(("level", "method"), [(1, "operator"), (2, "in_person"), (3, "in_person")])
def test_a_verification_level_records_its_evidence(cli: Cli, level: int, method: str) -> None:
    document = create_user(cli, "1.234.567-2", "--verification-level", str(level))

    assert document["verification_level"] == level
    (evidence,) = cli.verification_rows()
    assert evidence["citizen_id"] == document["id"]
    assert evidence["level"] == level
    assert evidence["method"] == method
    assert evidence["verifier"] == "operator"
    assert evidence["document_type"] == "ci"
    assert evidence["document_number"] == "12345672"
    assert evidence["issuing_country"] == "UY"
    assert evidence["verified_at"] is not None
    assert evidence["note"]


def test_level_zero_records_no_evidence(sqlite_cli: Cli) -> None:
    create_user(sqlite_cli, "1.234.567-2", "--verification-level", "0")
    assert sqlite_cli.verification_rows() == []


@pytest.mark.parametrize(
    ("stdin", "password"),
    [
        ("first line password\nsecond line\n", "first line password"),
        ("no final newline", "no final newline"),
        ("windows line end\r\n", "windows line end"),
        ("  spaces are kept  \n", "  spaces are kept  "),
    ],
)
def test_the_password_is_the_first_line_of_stdin(
    sqlite_cli: Cli, hasher: PasswordHasher, stdin: str, password: str
) -> None:
    sqlite_cli.ok(
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        "--password-stdin",
        stdin=stdin,
    )
    password_hash = stored_hash(sqlite_cli)
    assert hasher.verify(password_hash, password).valid
    if stdin != password:
        assert not hasher.verify(password_hash, stdin).valid


def test_documents_of_other_countries(sqlite_cli: Cli) -> None:
    argentine = create_user(sqlite_cli, "20.123.456", "--document-type", "DNI", "--country", "ar")
    assert (
        argentine["username"],
        argentine["document_type"],
        argentine["document_country"],
        argentine["document_number"],
    ) == ("20123456", "dni", "AR", "20123456")

    # Without --country the document is from the country the provider serves.
    brazilian = sqlite_cli.json(
        "users",
        "create",
        "--username",
        "123.456.789-09",
        "--document-type",
        "cpf",
        "--given-name",
        "João",
        "--family-name",
        "Souza",
        "--password-stdin",
        stdin=f"{PASSWORD}\n",
        env={"IDP_COUNTRY": "BR"},
    )
    assert (brazilian["username"], brazilian["document_country"]) == ("12345678909", "BR")


@pytest.mark.parametrize("typed", ["1.234.567-2", "12345672", "1 234 567 2", "1234567-2"])
def test_a_duplicate_username_is_refused_however_it_is_typed(cli: Cli, typed: str) -> None:
    create_user(cli, "1.234.567-2")
    before = cli.snapshot()

    cli.refuses(
        "users",
        "create",
        "--username",
        typed,
        "--given-name",
        "Otra",
        "--family-name",
        "Persona",
        "--verification-level",
        "2",
        "--password-stdin",
        "--json",
        stdin="another password entirely\n",
        message="An account with the username 12345672 already exists.",
    )

    assert cli.snapshot() == before
    assert row_counts(cli) == {"citizen": 1, "identity_verification": 0, "signing_key": 0}


def _days_from_now(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


CREATE_REFUSALS = [
    pytest.param(
        ["--birthdate", "2024-13-01"],
        f"{PASSWORD}\n",
        "The birthdate '2024-13-01' is not a valid date in the form YYYY-MM-DD.",
        id="birthdate-month-13",
    ),
    pytest.param(
        ["--birthdate", "12/04/1985"],
        f"{PASSWORD}\n",
        "The birthdate '12/04/1985' is not a valid date in the form YYYY-MM-DD.",
        id="birthdate-not-iso",
    ),
    pytest.param(
        # Two days ahead: in the future in every time zone, whatever the clock's zone.
        ["--birthdate", _days_from_now(2)],
        f"{PASSWORD}\n",
        "The birthdate must not be in the future.",
        id="birthdate-future",
    ),
    pytest.param(
        ["--birthdate", "1879-12-31"],
        f"{PASSWORD}\n",
        "The birthdate is implausibly early.",
        id="birthdate-too-early",
    ),
    pytest.param([], "\n", "The password must not be empty.", id="password-empty-line"),
    pytest.param([], "", "The password must not be empty.", id="password-no-stdin-at-all"),
    pytest.param(
        [], "short\n", "The password must have at least 8 characters.", id="password-short"
    ),
    pytest.param(
        [],
        "x" * 1025 + "\n",
        "The password must have at most 1024 characters.",
        id="password-absurdly-long",
    ),
    pytest.param(
        ["--username", "1.234.567-3"],
        f"{PASSWORD}\n",
        "The cédula's check digit does not match; check the number.",
        id="cedula-check-digit",
    ),
    pytest.param(
        ["--username", "12-34"],
        f"{PASSWORD}\n",
        "A Uruguayan cédula has 7 or 8 digits, the last a check digit.",
        id="cedula-too-short",
    ),
    pytest.param(
        ["--document-type", "licence"],
        f"{PASSWORD}\n",
        "Unknown document type 'licence'; use one of ci, passport, dni, cpf, rg, other.",
        id="unknown-document-type",
    ),
    pytest.param(
        ["--country", "URY"],
        f"{PASSWORD}\n",
        "The issuing country must be a two-letter ISO 3166-1 code.",
        id="country-alpha3",
    ),
    pytest.param(
        ["--email", "maria.example.uy"],
        f"{PASSWORD}\n",
        "The email address 'maria.example.uy' is not valid.",
        id="email-without-at",
    ),
    pytest.param(
        ["--phone", "099 123 456"],
        f"{PASSWORD}\n",
        "The phone number must be in international form, such as +59899123456.",
        id="phone-national-form",
    ),
    pytest.param(
        ["--language", "fr"],
        f"{PASSWORD}\n",
        "The language must be one of es, pt, en.",
        id="language-unsupported",
    ),
    pytest.param(
        ["--verification-level", "5"],
        f"{PASSWORD}\n",
        "The verification level must be 0, 1, 2 or 3.",
        id="verification-level-5",
    ),
    pytest.param(
        ["--verification-level", "-1"],
        f"{PASSWORD}\n",
        "The verification level must be 0, 1, 2 or 3.",
        id="verification-level-negative",
    ),
    pytest.param(
        ["--given-name", "   "],
        f"{PASSWORD}\n",
        "The given name must not be empty.",
        id="given-name-blank",
    ),
]


@pytest.mark.parametrize(("options", "stdin", "message"), CREATE_REFUSALS)
def test_an_invalid_account_is_refused_and_nothing_is_written(
    sqlite_cli: Cli, options: list[str], stdin: str, message: str
) -> None:
    before = sqlite_cli.snapshot()
    # Later options win in Click, so each case overrides one of these valid values.
    sqlite_cli.refuses(
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        "--verification-level",
        "2",
        *options,
        "--password-stdin",
        "--json",
        stdin=stdin,
        message=message,
    )
    assert sqlite_cli.snapshot() == before
    assert row_counts(sqlite_cli) == {"citizen": 0, "identity_verification": 0, "signing_key": 0}


def test_the_password_is_not_read_from_stdin_without_password_stdin(sqlite_cli: Cli) -> None:
    """stdin is not a terminal here, so there is nobody to prompt: refuse, do not guess."""
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        "--json",
        stdin=f"{PASSWORD}\n",
        message="Give the password on standard input with --password-stdin.",
    )
    assert sqlite_cli.snapshot() == before


def test_there_is_no_password_option(sqlite_cli: Cli) -> None:
    """A password on the command line would end up in shell history and ``ps``."""
    before = sqlite_cli.snapshot()
    result = sqlite_cli.run(
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        "--password",
        PASSWORD,
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such option: --password" in result.stderr
    assert sqlite_cli.snapshot() == before


# users show / list --------------------------------------------------------------------------


def test_show_finds_the_account_however_the_username_is_typed(cli: Cli) -> None:
    created = create_user(cli, "1.234.567-2", "--verification-level", "2")
    for typed in ("12345672", "1.234.567-2", "1 234 567 2"):
        assert cli.json("users", "show", typed) == created


def test_show_without_json_prints_one_field_a_line(sqlite_cli: Cli) -> None:
    created = create_user(sqlite_cli, "1.234.567-2", "--birthdate", "1985-04-12")
    lines = sqlite_cli.ok("users", "show", "1.234.567-2").splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(created)
    assert "username: 12345672" in lines
    assert "given_name: María" in lines
    assert "birthdate: 1985-04-12" in lines
    assert "email: -" in lines
    assert "status: active" in lines


def test_list_json_is_an_array_of_the_accounts_oldest_first(cli: Cli) -> None:
    assert cli.json("users", "list") == []
    first = create_user(cli, "1.234.567-2")
    second = create_user(cli, "2.345.678-3", "--verification-level", "1")

    listed = cli.json("users", "list")

    assert isinstance(listed, list)
    assert listed == [first, second]


def test_list_pages_with_limit_and_offset(sqlite_cli: Cli) -> None:
    usernames = ["1.234.567-2", "2.345.678-3", "3.456.789-4"]
    for username in usernames:
        create_user(sqlite_cli, username)
    page = sqlite_cli.json("users", "list", "--limit", "1", "--offset", "1")
    assert [document["username"] for document in page] == ["23456783"]


def test_list_without_json_prints_a_table(sqlite_cli: Cli) -> None:
    assert sqlite_cli.ok("users", "list") == "(none)\n"
    create_user(sqlite_cli, "1.234.567-2")
    create_user(sqlite_cli, "2.345.678-3", "--verification-level", "2")
    sqlite_cli.ok("users", "disable", "2.345.678-3")

    lines = sqlite_cli.ok("users", "list").splitlines()

    assert [line.split() for line in lines] == [
        [
            "username",
            "document_country",
            "given_name",
            "family_name",
            "status",
            "verification_level",
        ],
        ["12345672", "UY", "María", "Rodríguez", "active", "0"],
        ["23456783", "UY", "María", "Rodríguez", "disabled", "2"],
    ]
    # Columns are aligned: every cell starts where its header starts.
    header = lines[0]
    for line in lines[1:]:
        assert line[header.index("status") :].startswith(("active", "disabled"))


# users disable / enable ---------------------------------------------------------------------


def test_disable_then_enable_changes_the_status_once(cli: Cli) -> None:
    create_user(cli, "1.234.567-2")
    created_row = citizen_row(cli)

    disabled = cli.json("users", "disable", "1.234.567-2")
    assert (disabled["status"], disabled["changed"]) == ("disabled", True)
    assert set(disabled) == DOCUMENT_FIELDS | {"changed"}
    disabled_row = citizen_row(cli)
    assert disabled_row["status"] == "disabled"
    assert disabled_row["updated_at"] > created_row["updated_at"]

    again = cli.json("users", "disable", "12345672")
    assert (again["status"], again["changed"]) == ("disabled", False)
    assert citizen_row(cli) == disabled_row  # not even updated_at moved

    enabled = cli.json("users", "enable", "12345672")
    assert (enabled["status"], enabled["changed"]) == ("active", True)
    assert citizen_row(cli)["status"] == "active"

    enabled_again = cli.json("users", "enable", "12345672")
    assert (enabled_again["status"], enabled_again["changed"]) == ("active", False)
    assert cli.json("users", "show", "12345672")["status"] == "active"
    # The password survives the round trip.
    assert citizen_row(cli)["password_hash"] == created_row["password_hash"]


def test_disable_and_enable_without_json_say_what_happened(sqlite_cli: Cli) -> None:
    create_user(sqlite_cli, "1.234.567-2")
    assert sqlite_cli.ok("users", "disable", "12345672") == (
        "The account 12345672 is now disabled.\n"
    )
    assert sqlite_cli.ok("users", "disable", "12345672") == (
        "The account 12345672 was already disabled.\n"
    )
    assert sqlite_cli.ok("users", "enable", "12345672") == "The account 12345672 is now active.\n"
    assert sqlite_cli.ok("users", "enable", "12345672") == (
        "The account 12345672 was already active.\n"
    )


# users set-password -------------------------------------------------------------------------


def test_set_password_replaces_the_password(cli: Cli, hasher: PasswordHasher) -> None:
    create_user(cli, "1.234.567-2")
    old_hash = stored_hash(cli)

    result = cli.json(
        "users", "set-password", "1.234.567-2", "--password-stdin", stdin=f"{NEW_PASSWORD}\n"
    )

    assert result == {"username": "12345672", "password_changed": True}
    new_hash = stored_hash(cli)
    assert new_hash != old_hash
    assert hasher.verify(new_hash, NEW_PASSWORD).valid
    assert not hasher.verify(new_hash, PASSWORD).valid
    assert row_counts(cli) == {"citizen": 1, "identity_verification": 0, "signing_key": 0}


def test_set_password_without_json_prints_one_sentence(
    sqlite_cli: Cli, hasher: PasswordHasher
) -> None:
    create_user(sqlite_cli, "1.234.567-2")
    stdout = sqlite_cli.ok(
        "users", "set-password", "12345672", "--password-stdin", stdin=f"{NEW_PASSWORD}\n"
    )
    assert stdout == "Set a new password for 12345672.\n"
    assert hasher.verify(stored_hash(sqlite_cli), NEW_PASSWORD).valid


@pytest.mark.parametrize(
    ("options", "stdin", "message"),
    [
        (["--password-stdin"], "short\n", "The password must have at least 8 characters."),
        (["--password-stdin"], "\n", "The password must not be empty."),
        ([], f"{NEW_PASSWORD}\n", "Give the password on standard input with --password-stdin."),
    ],
)
def test_set_password_refusals_keep_the_old_password(
    sqlite_cli: Cli, hasher: PasswordHasher, options: list[str], stdin: str, message: str
) -> None:
    create_user(sqlite_cli, "1.234.567-2")
    before = sqlite_cli.snapshot()

    sqlite_cli.refuses(
        "users", "set-password", "12345672", *options, "--json", stdin=stdin, message=message
    )

    assert sqlite_cli.snapshot() == before
    assert hasher.verify(stored_hash(sqlite_cli), PASSWORD).valid


# unknown usernames --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        (["show"], None),
        (["disable"], None),
        (["enable"], None),
        (["set-password", "--password-stdin"], f"{NEW_PASSWORD}\n"),
    ],
    ids=["show", "disable", "enable", "set-password"],
)
def test_an_unknown_username_is_refused(
    sqlite_cli: Cli, command: list[str], stdin: str | None
) -> None:
    create_user(sqlite_cli, "1.234.567-2")  # someone else, who must stay untouched
    before = sqlite_cli.snapshot()

    sqlite_cli.refuses(
        "users",
        command[0],
        "2.345.678-3",
        *command[1:],
        "--json",
        stdin=stdin,
        message="No account has the username '2.345.678-3'.",
    )

    assert sqlite_cli.snapshot() == before
