"""``idp db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.cli import common
from idp.storage.migrate import current_revision, head_revision, upgrade_to_head

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings, require_schema=False) as db:
        before = current_revision(db.engine)
        upgrade_to_head(db.engine)
        after = current_revision(db.engine)
    if json_output:
        common.print_json({"from_revision": before, "to_revision": after})
    elif before == after:
        typer.echo(f"The database is already at the newest schema ({after}).")
    else:
        typer.echo(f"Migrated the database from {before or 'empty'} to {after}.")


@app.command("current")
def current(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the database's schema revision and the newest one."""
    settings = common.settings()
    revision: str | None = None
    # A SQLite file that does not exist is an empty database; opening it would create it.
    if common.missing_sqlite_file(settings) is None:
        with common.operator_errors(), common.database(settings, require_schema=False) as db:
            revision = current_revision(db.engine)
    head = head_revision()
    if json_output:
        common.print_json({"current": revision, "head": head, "up_to_date": revision == head})
    else:
        typer.echo(f"current: {revision or 'empty'}; newest: {head}")
