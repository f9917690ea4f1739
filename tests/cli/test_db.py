"""``idp db``, and every command's refusal of a database that is not migrated or not usable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from idp.storage.database import create_database_engine
from idp.storage.migrate import alembic_config, head_revision
from tests.cli.helpers import PASSWORD, WATCHED_TABLES, Cli, database_state, sqlite_file

STALE_SCHEMA = "The database schema is not up to date; run `idp db upgrade`."
UNREACHABLE_URL = "postgresql+psycopg://idp@127.0.0.1:9/idp"  # the discard port: refused at once

# Every command that needs the schema, with the stdin it would read.
SCHEMA_COMMANDS = [
    pytest.param(["users", "list"], None, id="users-list"),
    pytest.param(["users", "show", "1.234.567-2"], None, id="users-show"),
    pytest.param(
        [
            "users",
            "create",
            "--username",
            "1.234.567-2",
            "--given-name",
            "María",
            "--family-name",
            "Rodríguez",
            "--password-stdin",
        ],
        f"{PASSWORD}\n",
        id="users-create",
    ),
    pytest.param(["users", "disable", "1.234.567-2"], None, id="users-disable"),
    pytest.param(["users", "enable", "1.234.567-2"], None, id="users-enable"),
    pytest.param(
        ["users", "set-password", "1.234.567-2", "--password-stdin"],
        f"{PASSWORD}\n",
        id="users-set-password",
    ),
    pytest.param(["keys", "list"], None, id="keys-list"),
    pytest.param(["keys", "rotate"], None, id="keys-rotate"),
    pytest.param(["demo", "seed"], None, id="demo-seed"),
]


def _expected_refusal(cli: Cli) -> str:
    path = sqlite_file(cli.database_url)
    if path is not None:
        return f"The database {path} does not exist yet; run `idp db upgrade` to create it."
    return STALE_SCHEMA


@pytest.mark.parametrize(("args", "stdin"), SCHEMA_COMMANDS)
def test_commands_refuse_an_empty_database(
    empty_cli: Cli, args: list[str], stdin: str | None
) -> None:
    before = empty_cli.snapshot()

    empty_cli.refuses(*args, "--json", stdin=stdin, message=_expected_refusal(empty_cli))

    # Nothing at all was written: no SQLite file, no table, no keys folder.
    assert empty_cli.snapshot() == before
    assert before["keys"] is None
    assert before["database"] in ({"exists": False}, {"exists": True, "tables": [], "rows": {}})


@pytest.mark.parametrize(("args", "stdin"), SCHEMA_COMMANDS[:3] + SCHEMA_COMMANDS[-2:])
def test_commands_refuse_an_existing_but_unmigrated_sqlite_file(
    tmp_path: Path, args: list[str], stdin: str | None
) -> None:
    path = tmp_path / "unmigrated.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")  # a database file, as the provider opens it
    connection.close()
    content = path.read_bytes()
    assert content.startswith(b"SQLite format 3")
    cli = Cli(database_url=f"sqlite:///{path}", keys_dir=tmp_path / "keys")

    cli.refuses(*args, stdin=stdin, message=STALE_SCHEMA)

    assert path.read_bytes() == content
    assert database_state(cli.database_url)["tables"] == []
    assert not cli.keys_dir.exists()


def _previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_revision(head_revision())
    assert head is not None
    previous = head.down_revision
    assert isinstance(previous, str), "this test needs a head with exactly one parent"
    return previous


def test_an_older_schema_is_refused_then_upgraded(tmp_path: Path) -> None:
    cli = Cli(database_url=f"sqlite:///{tmp_path / 'old.sqlite3'}", keys_dir=tmp_path / "keys")
    previous = _previous_revision()
    engine = create_database_engine(cli.database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, previous)
    finally:
        engine.dispose()
    before = cli.snapshot()

    cli.refuses("users", "list", message=STALE_SCHEMA)
    assert cli.snapshot() == before
    assert cli.json("db", "current") == {
        "current": previous,
        "head": head_revision(),
        "up_to_date": False,
    }

    assert cli.json("db", "upgrade") == {"from_revision": previous, "to_revision": head_revision()}
    assert cli.json("users", "list") == []


def test_upgrade_creates_the_schema_and_is_idempotent(empty_cli: Cli) -> None:
    head = head_revision()
    assert head is not None
    assert empty_cli.json("db", "current") == {"current": None, "head": head, "up_to_date": False}

    assert empty_cli.json("db", "upgrade") == {"from_revision": None, "to_revision": head}
    state = empty_cli.snapshot()["database"]
    assert set(WATCHED_TABLES) | {"alembic_version"} <= set(state["tables"])
    assert all(rows == [] for rows in state["rows"].values())

    assert empty_cli.json("db", "upgrade") == {"from_revision": head, "to_revision": head}
    assert empty_cli.ok("db", "upgrade") == (
        f"The database is already at the newest schema ({head}).\n"
    )
    assert empty_cli.snapshot()["database"] == state
    assert empty_cli.json("db", "current") == {"current": head, "head": head, "up_to_date": True}
    assert empty_cli.ok("db", "current") == f"current: {head}; newest: {head}\n"
    # And the migrated database is usable at once.
    assert empty_cli.json("users", "list") == []


def test_upgrade_without_json_says_what_it_did(tmp_path: Path) -> None:
    # The folder of a SQLite file is created on upgrade, as `make run` relies on for var/.
    path = tmp_path / "var" / "nested" / "idp.sqlite3"
    cli = Cli(database_url=f"sqlite:///{path}", keys_dir=tmp_path / "keys")
    assert cli.ok("db", "upgrade") == f"Migrated the database from empty to {head_revision()}.\n"
    assert path.is_file()


def test_current_on_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "idp.sqlite3"
    cli = Cli(database_url=f"sqlite:///{path}", keys_dir=tmp_path / "keys")

    assert cli.ok("db", "current") == f"current: empty; newest: {head_revision()}\n"
    assert cli.json("db", "current")["current"] is None
    assert not path.parent.exists()


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        pytest.param(["db", "upgrade"], None, id="db-upgrade"),
        pytest.param(["db", "current"], None, id="db-current"),
        *SCHEMA_COMMANDS[:1],
        *SCHEMA_COMMANDS[2:3],
    ],
)
def test_an_unreachable_database_is_one_sentence(
    tmp_path: Path, args: list[str], stdin: str | None
) -> None:
    cli = Cli(database_url=UNREACHABLE_URL, keys_dir=tmp_path / "keys")
    cli.refuses(
        *args, "--json", stdin=stdin, message="The database cannot be reached (OperationalError)."
    )
    assert not cli.keys_dir.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "IDP_DATABASE_URL is not a usable database URL (ArgumentError)."),
        (
            "nosuchdb://host/db",
            "IDP_DATABASE_URL is not a usable database URL (NoSuchModuleError).",
        ),
        (
            "mysql://idp@127.0.0.1/idp",
            "IDP_DATABASE_URL needs a database driver that is not installed (MySQLdb).",
        ),
    ],
)
@pytest.mark.parametrize("args", [["db", "upgrade"], ["users", "list"]], ids=["upgrade", "list"])
def test_an_unusable_database_url_is_one_sentence(
    tmp_path: Path, url: str, message: str, args: list[str]
) -> None:
    cli = Cli(database_url=url, keys_dir=tmp_path / "keys")
    cli.refuses(*args, message=message)


def test_a_settings_error_is_one_sentence(sqlite_cli: Cli) -> None:
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "users",
        "list",
        "--json",
        env={"IDP_COUNTRY": "URY"},
        message="IDP_COUNTRY must be a two-letter ISO 3166-1 code such as UY.",
    )
    assert sqlite_cli.snapshot() == before
