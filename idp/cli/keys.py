"""``idp keys``: the signing keys (list, and the initial keys of a new installation)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from idp.cli import common
from idp.context import utc_now
from idp.signing_keys import service
from idp.storage.models import SigningKey

app = typer.Typer(help="Signing keys.", no_args_is_help=True)


def describe(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "purpose": key.purpose,
        "state": key.state,
        "created": key.created_at,
        "activated": key.activated_at,
        "retired": key.retired_at,
    }


@app.command("list")
def list_keys(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List keys with their state."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        documents = [describe(key) for key in service.list_keys(session)]
    if json_output:
        common.print_json(documents)
    else:
        common.print_table(
            documents, ["kid", "alg", "purpose", "state", "created", "activated", "retired"]
        )


@app.command("rotate")
def rotate(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """On an empty key store, create the current RS256 and ES256 signing keys."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        if service.list_keys(session):
            common.fail(
                "The key store already has keys; rotating existing keys is not available yet."
            )
        created = [
            describe(key)
            for key in service.create_initial_keys(
                session, store=service.key_store(settings), now=utc_now()
            )
        ]
    if json_output:
        common.print_json(created)
    else:
        for key in created:
            typer.echo(f"Created current {key['alg']} key {key['kid']}.")
