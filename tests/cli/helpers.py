"""The real ``idp`` app run in-process against a real database, and what a command changed.

Every command runs through Typer's ``CliRunner`` with the settings given as ``IDP_*``
environment variables, exactly as an operator would set them. ``Cli.snapshot`` reads what a
command could have changed (the rows of the citizen, identity_verification and signing_key
tables, and the files of the keys folder) without creating anything, so that a test can assert
that a refused command changed nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from idp.cli import app
from idp.storage.database import create_database_engine
from tests.conftest import TEST_PASSPHRASE

ACCOUNT_AND_KEY_TABLES = ("citizen", "identity_verification", "signing_key")
WATCHED_TABLES = (*ACCOUNT_AND_KEY_TABLES, "oauth_client")
PASSWORD = "correct horse battery"


@dataclass
class Cli:
    """The ``idp`` command bound to one database and one keys folder."""

    database_url: str
    keys_dir: Path
    passphrase: str = TEST_PASSPHRASE
    runner: CliRunner = field(default_factory=CliRunner)

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        values: dict[str, str | None] = {
            "IDP_DATABASE_URL": self.database_url,
            "IDP_KEYS_DIR": str(self.keys_dir),
            "IDP_KEY_PASSPHRASE": self.passphrase,
        }
        values.update(extra or {})
        return values

    def run(
        self, *args: str, stdin: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> Result:
        result = self.runner.invoke(app, list(args), input=stdin, env=self.env(env))
        # A crash is never an acceptable outcome, whatever the exit code.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"idp {' '.join(args)} crashed") from result.exception
        return result

    def ok(
        self, *args: str, stdin: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> str:
        """Run a command that must succeed quietly on stderr; its stdout."""
        result = self.run(*args, stdin=stdin, env=env)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        assert result.stderr == ""
        return result.stdout

    def json(
        self, *args: str, stdin: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> Any:
        """Run a command with ``--json``: stdout must be exactly one JSON document."""
        stdout = self.ok(*args, "--json", stdin=stdin, env=env)
        # json.loads refuses anything before or after the document ("Extra data").
        return json.loads(stdout)

    def refuses(
        self,
        *args: str,
        message: str,
        stdin: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        """Run a command that must refuse with exactly ``Error: <message>`` on stderr."""
        result = self.run(*args, stdin=stdin, env=env)
        assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        assert result.stderr == f"Error: {message}\n"
        return result

    def snapshot(self) -> dict[str, Any]:
        """Everything a command could change, read without creating the database or folder."""
        return {"database": database_state(self.database_url), "keys": key_files(self.keys_dir)}

    def citizen_rows(self) -> list[dict[str, Any]]:
        return table_rows(self.database_url, "citizen")

    def verification_rows(self) -> list[dict[str, Any]]:
        return table_rows(self.database_url, "identity_verification")

    def key_rows(self) -> list[dict[str, Any]]:
        return table_rows(self.database_url, "signing_key")


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def database_state(url: str) -> dict[str, Any]:
    """The tables and the full content of the watched tables (no file is created to read)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return {"exists": False}
    engine = create_database_engine(url)
    try:
        tables = sorted(inspect(engine).get_table_names())
        rows = {table: _rows(engine, table) for table in WATCHED_TABLES if table in tables}
    finally:
        engine.dispose()
    return {"exists": True, "tables": tables, "rows": rows}


def _rows(engine: Any, table: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(text(f"SELECT * FROM {table}"))
        rows = [dict(row._mapping) for row in result]
    return sorted(rows, key=repr)


def table_rows(url: str, table: str) -> list[dict[str, Any]]:
    engine = create_database_engine(url)
    try:
        return _rows(engine, table)
    finally:
        engine.dispose()


def row_counts(cli: Cli) -> dict[str, int]:
    state = database_state(cli.database_url)
    return {
        table: len(rows) for table, rows in state["rows"].items() if table in ACCOUNT_AND_KEY_TABLES
    }


def key_files(folder: Path) -> dict[str, bytes] | None:
    """Name and content of every file in the keys folder; None when the folder is absent."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return {"<not a folder>": folder.read_bytes()}
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def create_user(
    cli: Cli, username: str = "1.234.567-2", *options: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Create an account through the CLI and return its ``--json`` document."""
    document: dict[str, Any] = cli.json(
        "users",
        "create",
        "--username",
        username,
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        *options,
        "--password-stdin",
        stdin=f"{password}\n",
    )
    return document
