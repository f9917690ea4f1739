"""The ``idp`` command (Typer): provider and operator CLI."""

from __future__ import annotations

import typer

from idp.cli import (
    audit,
    card,
    clients,
    db,
    demo,
    federation,
    keys,
    serve,
    signatures,
    users,
    verify,
)

app = typer.Typer(
    name="idp",
    help="National digital identity provider: serve it and operate it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(federation.app, name="federation")
app.add_typer(clients.app, name="clients")
app.add_typer(demo.app, name="demo")
app.add_typer(verify.app, name="verify")
app.add_typer(card.app, name="card")
app.add_typer(audit.app, name="audit")
app.add_typer(signatures.ca_app, name="ca")
app.add_typer(signatures.app, name="signatures")
app.command("serve")(serve.serve)


def main() -> None:
    app()
