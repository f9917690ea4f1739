"""``idp users``: citizen accounts for operators. Passwords only from stdin or a prompt."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from idp.accounts.passwords import PasswordHasher
from idp.accounts.registration import (
    NewCitizen,
    create_citizen,
    require_citizen,
    set_password,
    set_status,
)
from idp.cli import common
from idp.context import utc_now
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, CitizenStatus

app = typer.Typer(help="Citizen accounts.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def describe(session: Session, citizen: Citizen) -> dict[str, Any]:
    return {
        "id": citizen.id,
        "username": citizen.username,
        "document_type": citizen.document_type,
        "document_country": citizen.document_country,
        "document_number": citizen.document_number,
        "given_name": citizen.given_name,
        "family_name": citizen.family_name,
        "birthdate": citizen.birthdate,
        "email": citizen.email,
        "email_verified": citizen.email_verified,
        "phone_number": citizen.phone_number,
        "preferred_language": citizen.preferred_language,
        "status": citizen.status,
        "verification_level": citizen_store.verification_level(session, citizen_id=citizen.id),
        "created_at": citizen.created_at,
        "updated_at": citizen.updated_at,
    }


def _show(document: dict[str, Any], *, json_output: bool) -> None:
    if json_output:
        common.print_json(document)
        return
    for name, value in document.items():
        typer.echo(f"{name}: {'-' if value is None else value}")


@app.command("create")
def create(
    username: Annotated[str, typer.Option(help="National document number.")],
    given_name: Annotated[str, typer.Option()],
    family_name: Annotated[str, typer.Option()],
    document_type: Annotated[str, typer.Option(help="ci, passport, dni, cpf, rg or other.")] = "ci",
    country: Annotated[
        str | None, typer.Option(help="Issuing country (ISO 3166-1); default IDP_COUNTRY.")
    ] = None,
    birthdate: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option(help="International form, +59899123456.")] = None,
    language: Annotated[str | None, typer.Option(help="es, pt or en.")] = None,
    verification_level: Annotated[
        int, typer.Option(help="Above 0 records an operator's verification with its evidence.")
    ] = 0,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a citizen account."""
    settings = common.settings()
    password = common.read_password(from_stdin=password_stdin)
    request = NewCitizen(
        document_number=username,
        document_type=document_type,
        document_country=country or settings.country,
        given_name=given_name,
        family_name=family_name,
        birthdate=birthdate,
        email=email,
        phone_number=phone,
        preferred_language=language,
        verification_level=verification_level,
    )
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        citizen = create_citizen(
            session,
            request=request,
            password=password,
            hasher=PasswordHasher.from_settings(settings),
            now=utc_now(),
        )
        document = describe(session, citizen)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"Created the account {document['username']} (id {document['id']}).")


@app.command("show")
def show(username: str, json_output: JsonOption = False) -> None:
    """Show one account."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        document = describe(session, require_citizen(session, username=username))
    _show(document, json_output=json_output)


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    json_output: JsonOption = False,
) -> None:
    """List accounts, oldest first."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        documents = [
            describe(session, citizen)
            for citizen in citizen_store.list_citizens(session, limit=limit, offset=offset)
        ]
    if json_output:
        common.print_json(documents)
    else:
        common.print_table(
            documents,
            [
                "username",
                "document_country",
                "given_name",
                "family_name",
                "status",
                "verification_level",
            ],
        )


def _change_status(username: str, status: CitizenStatus, json_output: bool) -> None:
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        citizen = require_citizen(session, username=username)
        changed = set_status(citizen, status=status, now=utc_now())
        document = describe(session, citizen)
    if json_output:
        common.print_json({**document, "changed": changed})
    elif changed:
        typer.echo(f"The account {document['username']} is now {status.value}.")
    else:
        typer.echo(f"The account {document['username']} was already {status.value}.")


@app.command("disable")
def disable(username: str, json_output: JsonOption = False) -> None:
    """Disable an account: it can no longer log in."""
    _change_status(username, CitizenStatus.DISABLED, json_output)


@app.command("enable")
def enable(username: str, json_output: JsonOption = False) -> None:
    """Enable a disabled account."""
    _change_status(username, CitizenStatus.ACTIVE, json_output)


@app.command("set-password")
def set_password_command(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    json_output: JsonOption = False,
) -> None:
    """Set a new password (from stdin's first line, or a hidden prompt)."""
    settings = common.settings()
    password = common.read_password(from_stdin=password_stdin)
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        citizen = require_citizen(session, username=username)
        set_password(
            citizen, password=password, hasher=PasswordHasher.from_settings(settings), now=utc_now()
        )
        name = citizen.username
    if json_output:
        common.print_json({"username": name, "password_changed": True})
    else:
        typer.echo(f"Set a new password for {name}.")
