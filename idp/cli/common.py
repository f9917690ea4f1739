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
from typing import Any, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

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


@contextmanager
def database(current_settings: Settings, *, require_schema: bool = True) -> Iterator[Database]:
    db = Database.from_settings(current_settings)
    try:
        if require_schema:
            try:
                revision = current_revision(db.engine)
            except SQLAlchemyError as exc:
                fail(f"The database cannot be reached ({type(exc).__name__}).")
            if revision != head_revision():
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
