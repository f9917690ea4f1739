"""``idp verify``: registry match, video and in-person checks, and ``show``; every refusal
says why in one sentence and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

from tests.cli.helpers import Cli, create_user

LUCIA = "5.678.901-6"  # in the demo registry, not a demo account


def _lucia(cli: Cli, *options: str) -> None:
    cli.json("demo", "seed")
    cli.json(
        "users",
        "create",
        "--username",
        LUCIA,
        "--given-name",
        "LUCIA",
        "--family-name",
        "martinez",
        "--birthdate",
        "2000-02-29",
        *options,
        "--password-stdin",
        stdin="correct horse battery\n",
    )


def test_registry_then_video_then_in_person(cli: Cli) -> None:
    _lucia(cli)

    matched = cli.json("verify", "registry", LUCIA)
    assert matched["username"] == "56789016"
    assert matched["verification_level"] == 1
    recorded = matched["recorded"]
    assert (recorded["level"], recorded["method"], recorded["evidence_type"]) == (
        1,
        "registry_match",
        "electronic_record",
    )
    assert recorded["check_method"] == "data"
    assert recorded["attributes"]["registry"] == "demo civil registry"

    video = cli.json("verify", "video", LUCIA, "--operator", "Laura Pérez", "--note", "Clear.")
    assert video["verification_level"] == 2
    assert (video["recorded"]["method"], video["recorded"]["check_method"]) == ("video", "vri")
    assert video["recorded"]["verifier"] == "Laura Pérez"
    assert video["recorded"]["attributes"]["registry_match_id"] == recorded["id"]

    expires = (date.today() + timedelta(days=400)).isoformat()
    in_person = cli.json(
        "verify", "in-person", LUCIA, "--operator", "Oficina Central", "--document-expires", expires
    )
    assert in_person["verification_level"] == 3
    assert (in_person["recorded"]["evidence_type"], in_person["recorded"]["check_method"]) == (
        "document",
        "vpip",
    )
    assert in_person["recorded"]["attributes"]["date_of_expiry"] == expires

    shown = cli.json("verify", "show", LUCIA)
    assert shown["verification_level"] == 3
    assert [record["method"] for record in shown["evidence"]] == [
        "registry_match",
        "video",
        "in_person",
    ]
    assert cli.json("users", "show", LUCIA)["verification_level"] == 3


def test_text_output(sqlite_cli: Cli) -> None:
    _lucia(sqlite_cli)
    line = sqlite_cli.ok("verify", "registry", LUCIA)
    assert line.startswith("Recorded a civil registry match for 56789016 (evidence ")
    assert line.endswith("; verification level 1.\n")
    shown = sqlite_cli.ok("verify", "show", LUCIA).splitlines()
    assert shown[0] == "56789016: verification level 1"
    assert shown[1].split() == [
        "id",
        "level",
        "method",
        "evidence_type",
        "check_method",
        "verifier",
        "verified_at",
    ]
    assert "registry_match" in shown[2]


def test_show_lists_the_demo_evidence(sqlite_cli: Cli) -> None:
    sqlite_cli.json("demo", "seed")
    levels = {
        username: sqlite_cli.json("verify", "show", username)
        for username in ("1.234.567-2", "2.345.678-3", "3.456.789-4", "4.567.890-5")
    }
    assert [shown["verification_level"] for shown in levels.values()] == [0, 1, 2, 3]
    assert levels["1.234.567-2"]["evidence"] == []
    ((email,), (video,), (in_person,)) = (
        levels[username]["evidence"] for username in ("2.345.678-3", "3.456.789-4", "4.567.890-5")
    )
    assert (email["method"], email["evidence_type"], email["check_method"]) == (
        "email",
        "electronic_record",
        "data",
    )
    assert (video["method"], video["evidence_type"], video["check_method"]) == (
        "video",
        "document",
        "vri",
    )
    assert video["attributes"]["registry"] == "demo civil registry"
    assert (in_person["method"], in_person["check_method"]) == ("in_person", "vpip")
    assert sqlite_cli.json("users", "show", "2.345.678-3")["email_verified"] is True


def test_a_registry_mismatch_is_refused(cli: Cli) -> None:
    cli.json("demo", "seed")
    create_user(cli, LUCIA, "--birthdate", "2000-03-01")  # "María Rodríguez", wrong birthdate
    before = cli.snapshot()
    cli.refuses(
        "verify",
        "registry",
        LUCIA,
        message="The names of the account 56789016 do not match the civil registry.",
    )
    assert cli.snapshot() == before


def test_a_document_the_registry_does_not_know_is_refused(sqlite_cli: Cli) -> None:
    sqlite_cli.json("demo", "seed")
    create_user(sqlite_cli, "9.876.543-8")
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "verify",
        "registry",
        "9.876.543-8",
        message="The civil registry has no record of the document 98765438.",
    )
    assert sqlite_cli.snapshot() == before


def test_expired_and_deceased_registry_records_are_refused(sqlite_cli: Cli) -> None:
    sqlite_cli.json("demo", "seed")
    for username, given, family, birthdate in (
        ("6.123.456-9", "Sofía", "González", "1990-10-10"),
        ("1.111.111-1", "Pedro", "Gómez", "1931-03-03"),
    ):
        sqlite_cli.json(
            "users",
            "create",
            "--username",
            username,
            "--given-name",
            given,
            "--family-name",
            family,
            "--birthdate",
            birthdate,
            "--password-stdin",
            stdin="correct horse battery\n",
        )
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "verify",
        "registry",
        "6.123.456-9",
        message="The civil registry records the document 61234569 as expired.",
    )
    sqlite_cli.refuses(
        "verify",
        "registry",
        "1.111.111-1",
        message="The civil registry records the holder of 11111111 as deceased.",
    )
    assert sqlite_cli.snapshot() == before


def test_video_without_a_registry_match_is_refused(cli: Cli) -> None:
    _lucia(cli)
    before = cli.snapshot()
    cli.refuses(
        "verify",
        "video",
        LUCIA,
        "--operator",
        "Laura",
        message="The account 56789016 has no civil registry match yet; "
        "run `idp verify registry` first.",
    )
    assert cli.snapshot() == before


def test_unknown_documents_are_refused(sqlite_cli: Cli) -> None:
    sqlite_cli.json("demo", "seed")
    before = sqlite_cli.snapshot()
    for command in (
        ("registry", "9.999.999-9"),
        ("video", "9.999.999-9", "--operator", "Laura"),
        ("in-person", "9.999.999-9", "--operator", "Laura", "--document-expires", "2040-01-01"),
        ("show", "9.999.999-9"),
    ):
        sqlite_cli.refuses("verify", *command, message="No account has the username '9.999.999-9'.")
    assert sqlite_cli.snapshot() == before


def test_refused_in_person_checks(sqlite_cli: Cli) -> None:
    _lucia(sqlite_cli)
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "verify",
        "in-person",
        LUCIA,
        "--operator",
        "Laura",
        "--document-expires",
        "2020-01-31",
        message="The document expired on 2020-01-31; an expired document proves nothing.",
    )
    sqlite_cli.refuses(
        "verify",
        "in-person",
        LUCIA,
        "--operator",
        "Laura",
        "--document-expires",
        "31/01/2040",
        message="The document expiry '31/01/2040' is not a valid date in the form YYYY-MM-DD.",
    )
    sqlite_cli.refuses(
        "verify",
        "in-person",
        LUCIA,
        "--operator",
        " ",
        "--document-expires",
        "2040-01-31",
        message="Give the name of the operator who performed the check.",
    )
    assert sqlite_cli.snapshot() == before


def test_missing_options_are_usage_errors(sqlite_cli: Cli) -> None:
    _lucia(sqlite_cli)
    before = sqlite_cli.snapshot()
    result = sqlite_cli.run("verify", "video", LUCIA)
    assert result.exit_code == 2
    assert "--operator" in result.stderr
    result = sqlite_cli.run("verify", "in-person", LUCIA, "--operator", "Laura")
    assert result.exit_code == 2
    assert "--document-expires" in result.stderr
    assert sqlite_cli.snapshot() == before


def test_the_schema_must_be_up_to_date(empty_cli: Cli) -> None:
    before = empty_cli.snapshot()
    result = empty_cli.run("verify", "registry", LUCIA)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert empty_cli.snapshot() == before
