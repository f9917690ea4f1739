"""``idp audit``: read and check the tamper-evident audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.audit.log import verify_chain
from idp.cli import common

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@app.command("verify")
def verify(json_output: JsonOption = False) -> None:
    """Check the whole hash chain; name the first broken record (exit code 1) if any."""
    settings = common.settings()
    if common.missing_sqlite_file(settings) is not None:
        common.fail("There is no database yet; run `idp db upgrade` first.")
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        report = verify_chain(session)
    if json_output:
        common.print_json(
            {
                "records": report.records,
                "intact": report.first_broken is None,
                "first_broken": report.first_broken,
                "reason": report.reason,
            }
        )
    elif report.first_broken is None:
        typer.echo(f"The audit chain is intact ({report.records} records).")
    else:
        typer.echo(
            f"The audit chain is broken at record {report.first_broken}: {report.reason}.",
            err=True,
        )
    if report.first_broken is not None:
        raise typer.Exit(common.EXIT_FAILURE)
