"""``idp federation``: this provider's OpenID Federation 1.0 Entity and, for a Trust Anchor,
its Immediate Subordinates (see :mod:`idp.federation.subordinates` for what is checked).

- ``add-subordinate ENTITY_ID --jwks-file F [--policy-file F] [--constraints-file F]
  [--metadata-file F] [--entity-type T ...]``: register a Subordinate; bad input is refused
  with one sentence and nothing is stored.
- ``update-subordinate ENTITY_ID [--jwks-file F] [--policy-file F] ...``: change what is
  stated about it (a new key set after it rotated its keys), the rest unchanged.
- ``list``: the Subordinates (``--all`` includes removed ones).
- ``remove ENTITY_ID --yes``: stop issuing Subordinate Statements about it.
- ``show-configuration``: the decoded Entity Configuration the provider serves now.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from idp.cli import common
from idp.context import utc_now
from idp.federation import subordinates
from idp.federation.entity import ENTITY_TYPES, signed_entity_configuration
from idp.federation.statements import decode_unverified
from idp.federation.subordinates import SubordinateError
from idp.signing_keys import service
from idp.signing_keys.keyring import KeyRing, NoSigningKey
from idp.storage.models import KeyPurpose

app = typer.Typer(help="OpenID Federation: this entity and its subordinates.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
LIST_COLUMNS = ["entity_id", "status", "entity_types", "kids", "updated"]


@contextmanager
def _subordinate_errors() -> Iterator[None]:
    try:
        yield
    except SubordinateError as exc:
        common.fail(str(exc))


def _read_json(path: Path | None, *, option: str) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        common.fail(f"{option}: the file {path} cannot be read ({reason}).")
    with _subordinate_errors():
        return subordinates.parse_document(text, what=f"the {option} file")


@app.command("add-subordinate")
def add_subordinate(
    entity_id: Annotated[str, typer.Argument(help="The subordinate's Entity Identifier.")],
    jwks_file: Annotated[
        Path, typer.Option("--jwks-file", help="Its Federation Entity Keys (a public JWK Set).")
    ],
    policy_file: Annotated[
        Path | None, typer.Option("--policy-file", help="metadata_policy (JSON object).")
    ] = None,
    constraints_file: Annotated[
        Path | None, typer.Option("--constraints-file", help="constraints (JSON object).")
    ] = None,
    metadata_file: Annotated[
        Path | None,
        typer.Option("--metadata-file", help="metadata that overrides the subordinate's own."),
    ] = None,
    entity_type: Annotated[
        list[str] | None,
        typer.Option(
            "--entity-type",
            help=f"Its Entity Types for the list endpoint ({', '.join(ENTITY_TYPES)}); "
            "default openid_provider.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Register an Immediate Subordinate of this Trust Anchor."""
    settings = common.settings()
    jwks = _read_json(jwks_file, option="--jwks-file")
    policy = _read_json(policy_file, option="--policy-file") or {}
    constraints = _read_json(constraints_file, option="--constraints-file") or {}
    metadata = _read_json(metadata_file, option="--metadata-file")
    with (
        _subordinate_errors(),
        common.operator_errors(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        row = subordinates.add_subordinate(
            session,
            entity_id=entity_id,
            issuer=settings.issuer,
            jwks=jwks,
            metadata_policy=policy,
            constraints=constraints,
            metadata=metadata,
            entity_types=entity_type or [],
            now=utc_now(),
        )
        document = subordinates.describe(row)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"Added the subordinate {entity_id}.")


@app.command("update-subordinate")
def update_subordinate(
    entity_id: Annotated[str, typer.Argument(help="The subordinate's Entity Identifier.")],
    jwks_file: Annotated[
        Path | None,
        typer.Option("--jwks-file", help="Its new Federation Entity Keys (after a rotation)."),
    ] = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy-file", help="A new metadata_policy.")
    ] = None,
    constraints_file: Annotated[
        Path | None, typer.Option("--constraints-file", help="New constraints.")
    ] = None,
    metadata_file: Annotated[
        Path | None,
        typer.Option("--metadata-file", help="New metadata override ({} to drop it)."),
    ] = None,
    entity_type: Annotated[
        list[str] | None, typer.Option("--entity-type", help="Its new Entity Types.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change what this Trust Anchor states about a subordinate; the rest stays."""
    settings = common.settings()
    documents = {
        "jwks": _read_json(jwks_file, option="--jwks-file"),
        "metadata_policy": _read_json(policy_file, option="--policy-file"),
        "constraints": _read_json(constraints_file, option="--constraints-file"),
        "metadata": _read_json(metadata_file, option="--metadata-file"),
    }
    with (
        _subordinate_errors(),
        common.operator_errors(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        row = subordinates.update_subordinate(
            session,
            entity_id=entity_id,
            entity_types=entity_type or [],
            now=utc_now(),
            **documents,
        )
        document = subordinates.describe(row)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"Updated the subordinate {entity_id}.")


@app.command("list")
def list_subordinates(
    include_removed: Annotated[
        bool, typer.Option("--all", help="Include removed subordinates.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List the subordinates of this Trust Anchor."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        rows = subordinates.list_subordinates(session, include_removed=include_removed)
        documents = [subordinates.describe(row) for row in rows]
    if json_output:
        common.print_json(documents)
        return
    for document in documents:
        document["entity_types"] = ",".join(document["entity_types"])
        document["kids"] = ",".join(str(kid) for kid in document["kids"])
    common.print_table(documents, LIST_COLUMNS)


@app.command("remove")
def remove(
    entity_id: Annotated[str, typer.Argument(help="The subordinate's Entity Identifier.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Stop issuing Subordinate Statements about an entity."""
    if not yes:
        if json_output or not sys.stdin.isatty():
            common.fail("Removing a subordinate needs confirmation; add --yes.")
        typer.confirm(f"Remove {entity_id}? Trust Chains through it stop resolving.", abort=True)
    settings = common.settings()
    with (
        _subordinate_errors(),
        common.operator_errors(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        row = subordinates.remove_subordinate(session, entity_id=entity_id, now=utc_now())
        document = subordinates.describe(row)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"Removed the subordinate {entity_id}.")


@app.command("show-configuration")
def show_configuration(json_output: JsonOption = False) -> None:
    """Print the decoded Entity Configuration (header and claims) the provider serves now."""
    settings = common.settings()
    if not settings.federation_enabled:
        common.fail("Federation is not enabled; set IDP_FEDERATION_ENABLED=true.")
    with common.operator_errors(), common.database(settings) as db:
        store = service.key_store(settings)
        rings = {
            purpose: KeyRing(database=db, store=store, refresh_seconds=1, purpose=purpose)
            for purpose in (KeyPurpose.FEDERATION, KeyPurpose.OIDC)
        }
        try:
            token = signed_entity_configuration(
                settings,
                federation_keyring=rings[KeyPurpose.FEDERATION],
                oidc_keyring=rings[KeyPurpose.OIDC],
                now=int(utc_now().timestamp()),
            )
        except NoSigningKey:
            common.fail(
                "There is no current ES256 federation key; "
                "run `idp keys rotate --purpose federation`."
            )
    header, claims = decode_unverified(token)
    del json_output  # the configuration is always printed as one JSON document
    common.print_json({"header": header, "claims": claims})
