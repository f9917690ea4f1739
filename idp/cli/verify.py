"""``idp verify``: identity verification checks recorded by operators, with their evidence.

- ``registry DOCUMENT``: compare the account with the civil registry (level 1 evidence);
- ``video DOCUMENT --operator NAME``: an operator's video check (level 2), only after a
  registry match;
- ``in-person DOCUMENT --operator NAME --document-expires YYYY-MM-DD``: a registration
  authority checked the person with the document in hand (level 3);
- ``show DOCUMENT``: the account's level and every evidence record.

A refused check writes nothing and says why in one sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from idp.accounts.registration import require_citizen
from idp.assurance.enrolment import (
    VerificationRefused,
    describe_evidence,
    evidence_of,
    record_in_person_check,
    record_video_check,
)
from idp.assurance.registry import DemoCivilRegistry, match_registry
from idp.cli import common
from idp.context import utc_now
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, IdentityVerification

app = typer.Typer(help="Identity verification checks and their evidence.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
DocumentArgument = Annotated[str, typer.Argument(help="The account's document number.")]
OperatorOption = Annotated[
    str, typer.Option("--operator", help="Name of the operator who performed the check.")
]
NoteOption = Annotated[str | None, typer.Option("--note", help="What the operator noted.")]


def _recorded(session: Session, citizen: Citizen, record: IdentityVerification) -> dict[str, Any]:
    return {
        "username": citizen.username,
        "verification_level": citizen_store.verification_level(session, citizen_id=citizen.id),
        "recorded": describe_evidence(record),
    }


def _print_recorded(document: dict[str, Any], *, what: str, json_output: bool) -> None:
    if json_output:
        common.print_json(document)
        return
    typer.echo(
        f"Recorded {what} for {document['username']} (evidence {document['recorded']['id']}); "
        f"verification level {document['verification_level']}."
    )


@app.command("registry")
def registry(document: DocumentArgument, json_output: JsonOption = False) -> None:
    """Compare the account's names and birthdate with the civil registry."""
    settings = common.settings()
    with (
        common.operator_errors(),
        _refusals(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        citizen = require_citizen(session, username=document)
        record = match_registry(
            session, citizen=citizen, registry=DemoCivilRegistry(session), now=utc_now()
        )
        result = _recorded(session, citizen, record)
    _print_recorded(result, what="a civil registry match", json_output=json_output)


@app.command("video")
def video(
    document: DocumentArgument,
    operator: OperatorOption,
    note: NoteOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record an operator's video check (level 2); needs a civil registry match first."""
    settings = common.settings()
    with (
        common.operator_errors(),
        _refusals(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        citizen = require_citizen(session, username=document)
        record = record_video_check(
            session, citizen=citizen, operator=operator, note=note, now=utc_now()
        )
        result = _recorded(session, citizen, record)
    _print_recorded(result, what="a video check", json_output=json_output)


@app.command("in-person")
def in_person(
    document: DocumentArgument,
    operator: OperatorOption,
    document_expires: Annotated[
        str,
        typer.Option("--document-expires", help="Expiry printed on the document (YYYY-MM-DD)."),
    ],
    note: NoteOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record an in-person check with the document in hand (level 3)."""
    settings = common.settings()
    with (
        common.operator_errors(),
        _refusals(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        citizen = require_citizen(session, username=document)
        record = record_in_person_check(
            session,
            citizen=citizen,
            operator=operator,
            document_expires=document_expires,
            note=note,
            now=utc_now(),
        )
        result = _recorded(session, citizen, record)
    _print_recorded(result, what="an in-person check", json_output=json_output)


@app.command("show")
def show(document: DocumentArgument, json_output: JsonOption = False) -> None:
    """Show the account's verification level and its evidence, oldest first."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        citizen = require_citizen(session, username=document)
        result = {
            "username": citizen.username,
            "verification_level": citizen_store.verification_level(session, citizen_id=citizen.id),
            "evidence": [
                describe_evidence(record) for record in evidence_of(session, citizen=citizen)
            ],
        }
    if json_output:
        common.print_json(result)
        return
    typer.echo(f"{result['username']}: verification level {result['verification_level']}")
    common.print_table(
        result["evidence"],
        ["id", "level", "method", "evidence_type", "check_method", "verifier", "verified_at"],
    )


@contextmanager
def _refusals() -> Iterator[None]:
    """Like ``common.operator_errors``, for verification refusals (entered outside the
    transaction, so that it has rolled back when the sentence is printed)."""
    try:
        yield
    except VerificationRefused as exc:
        common.fail(str(exc))
