"""What every ``idp`` command shares: settings, the database, output and the error contract.

Contract (DESIGN.md): with ``--json`` a command prints exactly one JSON document on stdout;
errors go to stderr as one clear sentence with a non-zero exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from idp.accounts.documents import DocumentError
from idp.accounts.registration import AccountError
from idp.config import Settings, SettingsError, load_settings
from idp.signing_keys.service import KeyOperationError
from idp.signing_keys.store import KeyStoreError
from idp.startup import StartupError
from idp.storage.database import Database
from idp.storage.migrate import current_revision, head_revision

EXIT_FAILURE = 1

OPERATOR_ERRORS = (
    AccountError,
    DocumentError,
    KeyOperationError,
    KeyStoreError,
    SettingsError,
    StartupError,
)


def fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_FAILURE)


@contextmanager
def operator_errors() -> Iterator[None]:
    """Turn the known failures into one sentence on stderr and a non-zero exit code."""
    try:
        yield
    except OPERATOR_ERRORS as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"The database refused the operation ({type(exc).__name__}).")


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def missing_sqlite_file(current_settings: Settings) -> Path | None:
    """The file of the configured SQLite database when it does not exist yet, else None.

    Connecting to a missing SQLite file creates it (and the engine creates its folder), so a
    command that only reads, or that refuses, would leave an empty database behind; such
    commands ask here first and then write nothing.
    """
    try:
        url = make_url(current_settings.effective_database_url)
    except ArgumentError:
        return None  # ``database`` reports the unusable URL
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name).expanduser()
    return None if path.exists() else path


def refuse_missing_database(current_settings: Settings) -> None:
    """Refuse, without creating it, a SQLite database that ``idp db upgrade`` has not made."""
    missing = missing_sqlite_file(current_settings)
    if missing is not None:
        fail(f"The database {missing} does not exist yet; run `idp db upgrade` to create it.")


def open_database(current_settings: Settings) -> Database:
    """The engine for IDP_DATABASE_URL, or one sentence when the URL cannot give one.

    SQLAlchemy raises while building the engine, before any connection, for a URL it cannot
    parse or a dialect it does not know (``ArgumentError``) and for a dialect whose driver is
    not installed (``ImportError``); neither is a database error, so say so here.
    """
    try:
        return Database.from_settings(current_settings)
    except ArgumentError as exc:
        fail(f"IDP_DATABASE_URL is not a usable database URL ({type(exc).__name__}).")
    except ImportError as exc:
        fail(f"IDP_DATABASE_URL needs a database driver that is not installed ({exc.name}).")


@contextmanager
def database(current_settings: Settings, *, require_schema: bool = True) -> Iterator[Database]:
    """The database, reachable and (unless ``require_schema`` is False) at the newest schema.

    Both are checked before the command does anything, so that a refusal writes nothing and
    says what is wrong rather than which driver exception was raised.
    """
    if require_schema:
        refuse_missing_database(current_settings)
    db = open_database(current_settings)
    try:
        try:
            revision = current_revision(db.engine)
        except SQLAlchemyError as exc:
            fail(f"The database cannot be reached ({type(exc).__name__}).")
        if require_schema and revision != head_revision():
            fail("The database schema is not up to date; run `idp db upgrade`.")
        yield db
    finally:
        db.dispose()


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, default=_default, ensure_ascii=False, indent=2) + "\n")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        typer.echo("(none)")
        return
    text_rows = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(row[index]) for row in text_rows))
        for index, column in enumerate(columns)
    ]
    typer.echo(
        "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))
    )
    for row in text_rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def read_password(*, from_stdin: bool) -> str:
    """The password from stdin's first line (``--password-stdin``) or a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("Give the password on standard input with --password-stdin.")
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)
