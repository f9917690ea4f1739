"""``idp keys``: the signing key lifecycle (see docs/operations/key-rotation.md).

``list`` shows each key's effective state (a pending key whose publish-ahead time has passed is
shown as current, as every worker already treats it). Every command that would leave an
algorithm without a current key refuses, with nothing changed.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer

from idp.cli import common
from idp.config import Settings
from idp.context import utc_now
from idp.signing_keys import service
from idp.signing_keys.algorithms import SigningAlgorithm
from idp.signing_keys.keyring import KeyRing
from idp.signing_keys.lifecycle import DurationError, effective_states, parse_duration
from idp.storage.models import SigningKey

app = typer.Typer(help="Signing keys.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
DEFAULT_PUBLISH_AHEAD = "24h"
LIST_COLUMNS = ["kid", "alg", "purpose", "state", "created", "activated", "retired", "expires"]


def longest_token_lifetime(settings: Settings) -> timedelta:
    """How long a token signed now can stay valid: the longest of the token lifetimes."""
    return timedelta(seconds=max(settings.access_token_ttl_seconds, settings.id_token_ttl_seconds))


def describe(key: SigningKey, *, state: str | None = None, settings: Settings) -> dict[str, Any]:
    """One key for the operator; ``expires`` is when a retired key can be pruned."""
    effective = state or key.state
    retired = key.retired_at
    expires = retired + longest_token_lifetime(settings) if retired is not None else None
    return {
        "kid": key.kid,
        "alg": key.alg,
        "purpose": key.purpose,
        "state": effective,
        "created": key.created_at,
        "activated": key.activated_at,
        "activate_after": key.activate_after,
        "retired": retired,
        "expires": expires,
    }


def _duration(value: str, option: str) -> timedelta:
    try:
        return parse_duration(value)
    except DurationError as exc:
        common.fail(f"{option}: {exc}")


def _algorithm(value: str) -> SigningAlgorithm:
    try:
        return SigningAlgorithm(value)
    except ValueError:
        names = ", ".join(algorithm.value for algorithm in SigningAlgorithm)
        common.fail(f"Unknown algorithm {value!r}; use one of {names}.")


def _print_keys(documents: list[dict[str, Any]], *, json_output: bool, verb: str) -> None:
    if json_output:
        common.print_json(documents)
        return
    if not documents:
        typer.echo("Nothing to do.")
    for key in documents:
        typer.echo(f"{verb} {key['state']} {key['alg']} key {key['kid']}.")


@app.command("list")
def list_keys(json_output: JsonOption = False) -> None:
    """List keys with their effective state."""
    settings = common.settings()
    now = utc_now()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        keys = list(service.list_keys(session))
        states = effective_states([service.view_of(key) for key in keys], now)
        documents = [describe(key, state=states[key.kid].state, settings=settings) for key in keys]
        for document in documents:
            view = states[document["kid"]]
            document["activated"] = view.activated_at
            document["retired"] = view.retired_at
            if view.retired_at is not None:
                document["expires"] = view.retired_at + longest_token_lifetime(settings)
    if json_output:
        common.print_json(documents)
    else:
        common.print_table(documents, LIST_COLUMNS)


@app.command("rotate")
def rotate(
    alg: Annotated[list[str] | None, typer.Option("--alg", help="Only this algorithm.")] = None,
    publish_ahead: Annotated[
        str, typer.Option(help="How long the new key is published before it signs (e.g. 24h).")
    ] = DEFAULT_PUBLISH_AHEAD,
    if_older_than: Annotated[
        str | None, typer.Option(help="Cron mode: rotate only keys older than this (e.g. 90d).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add next keys that become current after the publish-ahead time (on an empty key store:
    current RS256 and ES256 keys at once)."""
    settings = common.settings()
    algorithms = [_algorithm(value) for value in alg or []]
    ahead = _duration(publish_ahead, "--publish-ahead")
    threshold = _duration(if_older_than, "--if-older-than") if if_older_than else None
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        created = service.rotate(
            session,
            store=service.key_store(settings),
            now=utc_now(),
            algorithms=algorithms,
            publish_ahead=ahead,
            if_older_than=threshold,
        )
        documents = [describe(key, settings=settings) for key in created]
    _print_keys(documents, json_output=json_output, verb="Created")


@app.command("generate")
def generate(
    alg: Annotated[str, typer.Option("--alg", help="RS256, PS256, ES256 or EdDSA.")],
    json_output: JsonOption = False,
) -> None:
    """Add a published next key that becomes current only with `idp keys activate`."""
    settings = common.settings()
    algorithm = _algorithm(alg)
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        key = service.generate(
            session, store=service.key_store(settings), algorithm=algorithm, now=utc_now()
        )
        document = describe(key, settings=settings)
    _print_keys([document], json_output=json_output, verb="Created")


def _single(operation: str, kid: str, json_output: bool, **kwargs: Any) -> None:
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        function = getattr(service, operation)
        key = function(session, kid=kid, now=utc_now(), **kwargs)
        document = describe(key, settings=settings)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"The {document['alg']} key {kid} is now {document['state']}.")


@app.command("activate")
def activate(kid: str, json_output: JsonOption = False) -> None:
    """Make a next key current now; the previous current key of its algorithm retires."""
    _single("activate", kid, json_output)


@app.command("retire")
def retire(kid: str, json_output: JsonOption = False) -> None:
    """Stop signing with a key (still published until its tokens expire)."""
    _single("retire", kid, json_output)


@app.command("revoke")
def revoke(
    kid: str,
    reason: Annotated[str, typer.Option(help="Why the key is revoked (kept with the key).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Emergency: remove a key from the JWKS at once; tokens it signed stop verifying."""
    if not yes:
        if json_output or not sys.stdin.isatty():
            common.fail("Revoking a key needs confirmation; add --yes.")
        typer.confirm(f"Revoke {kid}? Every token it signed stops verifying at once.", abort=True)
    _single("revoke", kid, json_output, reason=reason)


@app.command("prune")
def prune(json_output: JsonOption = False) -> None:
    """Remove retired keys whose tokens can no longer be valid."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        removed = service.prune(
            session,
            store=service.key_store(settings),
            now=utc_now(),
            longest_token_lifetime=longest_token_lifetime(settings),
        )
    if json_output:
        common.print_json({"removed": removed})
    elif removed:
        typer.echo(f"Removed {len(removed)} retired key(s): {', '.join(removed)}.")
    else:
        typer.echo("No retired key can be removed yet.")


@app.command("export-jwks")
def export_jwks() -> None:
    """Print the public JWK Set the provider publishes (next, current and retired keys)."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db:
        ring = KeyRing(database=db, store=service.key_store(settings), refresh_seconds=1)
        document = ring.jwks()
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
