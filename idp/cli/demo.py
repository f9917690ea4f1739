"""``idp demo``: demonstration data for development (refused in production)."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.accounts.passwords import PasswordHasher
from idp.accounts.registration import NewCitizen, create_citizen
from idp.cli import common
from idp.context import utc_now
from idp.signing_keys import service as keys
from idp.storage import citizens as citizen_store

app = typer.Typer(help="Demonstration data (development only).", no_args_is_help=True)

DEMO_PASSWORD = "demo-ciudadania"  # printed for the demo on purpose; never a real password

DEMO_CITIZENS = (
    NewCitizen(
        document_number="1.234.567-2",
        given_name="María",
        family_name="Rodríguez",
        birthdate="1985-04-12",
        email="maria.rodriguez@example.uy",
        preferred_language="es",
        verification_level=0,
    ),
    NewCitizen(
        document_number="2.345.678-3",
        given_name="Juan",
        family_name="Pérez",
        birthdate="1979-11-03",
        email="juan.perez@example.uy",
        verification_level=1,
    ),
    NewCitizen(
        document_number="3.456.789-4",
        given_name="Ana",
        family_name="Silva",
        birthdate="1992-06-30",
        email="ana.silva@example.uy",
        preferred_language="pt",
        verification_level=2,
    ),
    NewCitizen(
        document_number="4.567.890-5",
        given_name="Carlos",
        family_name="Fernández",
        birthdate="1968-01-21",
        email="carlos.fernandez@example.uy",
        verification_level=3,
    ),
)


@app.command("seed")
def seed(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create development keys if none exist and the demo citizens (idempotent)."""
    settings = common.settings()
    if settings.is_production:
        common.fail("Demo data is refused in production mode.")
    hasher = PasswordHasher.from_settings(settings)
    created_keys: list[str] = []
    logins: list[dict[str, object]] = []
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        if not keys.list_keys(session):
            created = keys.create_initial_keys(
                session, store=keys.key_store(settings), now=utc_now()
            )
            created_keys = [key.kid for key in created]
        for request in DEMO_CITIZENS:
            citizen = citizen_store.find_by_username(
                session, username=request.document_number.replace(".", "").replace("-", "")
            )
            if citizen is None:
                citizen = create_citizen(
                    session,
                    request=request,
                    password=DEMO_PASSWORD,
                    hasher=hasher,
                    now=utc_now(),
                    verifier="demo seed",
                )
            logins.append(
                {
                    "username": request.document_number,
                    "password": DEMO_PASSWORD,
                    "name": f"{citizen.given_name} {citizen.family_name}",
                    "verification_level": citizen_store.verification_level(
                        session, citizen_id=citizen.id
                    ),
                }
            )
    if json_output:
        common.print_json({"created_keys": created_keys, "logins": logins})
        return
    if created_keys:
        typer.echo(f"Created development signing keys: {', '.join(created_keys)}")
    typer.echo("Demo logins (document number / password):")
    for login in logins:
        typer.echo(
            f"  {login['username']:<14} {login['password']}  "
            f"{login['name']} (verification level {login['verification_level']})"
        )
