"""``idp keys``: the signing key lifecycle (see docs/operations/key-rotation.md).

``list`` shows each key's effective state (a pending key whose publish-ahead time has passed is
shown as current, as every worker already treats it). Every command that would leave an
algorithm without a current key refuses, with nothing changed.

``--purpose federation`` runs the same lifecycle on the Federation Entity Keys (OpenID
Federation 1.0 section 3.1 ``jwks``), which sign the Entity Configuration and Subordinate
Statements; the default is ``oidc``, the keys of tokens and of ``/jwks.json``. Each purpose
rotates on its own and neither key set is ever published in the other's JWK Set.
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
from idp.storage.models import KeyPurpose, SigningKey

app = typer.Typer(help="Signing keys.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
PurposeOption = Annotated[
    str,
    typer.Option(
        "--purpose",
        help="oidc (tokens and /jwks.json, the default) or federation (entity statements).",
    ),
]
MANAGED_PURPOSES = (KeyPurpose.OIDC, KeyPurpose.FEDERATION)
DEFAULT_PUBLISH_AHEAD = "24h"
LIST_COLUMNS = ["kid", "alg", "purpose", "state", "created", "activated", "retired", "expires"]


def longest_token_lifetime(
    settings: Settings, purpose: KeyPurpose | str = KeyPurpose.OIDC
) -> timedelta:
    """How long a token signed now can stay valid: the longest of the token lifetimes (for
    federation keys, the lifetime of the Entity Statements they sign)."""
    if purpose == KeyPurpose.FEDERATION:
        return timedelta(seconds=settings.federation_statement_lifetime_seconds)
    return timedelta(seconds=max(settings.access_token_ttl_seconds, settings.id_token_ttl_seconds))


def _purpose(value: str) -> KeyPurpose:
    purpose = {item.value: item for item in MANAGED_PURPOSES}.get(value)
    if purpose is None:
        names = ", ".join(item.value for item in MANAGED_PURPOSES)
        common.fail(f"Unknown key purpose {value!r}; use one of {names}.")
    return purpose


def describe(key: SigningKey, *, state: str | None = None, settings: Settings) -> dict[str, Any]:
    """One key for the operator; ``expires`` is when a retired key can be pruned."""
    effective = state or key.state
    retired = key.retired_at
    lifetime = longest_token_lifetime(settings, key.purpose)
    expires = retired + lifetime if retired is not None else None
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
def list_keys(json_output: JsonOption = False, purpose: PurposeOption = "oidc") -> None:
    """List keys with their effective state."""
    settings = common.settings()
    key_purpose = _purpose(purpose)
    now = utc_now()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        keys = list(service.list_keys(session, purpose=key_purpose))
        states = effective_states([service.view_of(key) for key in keys], now)
        documents = [describe(key, state=states[key.kid].state, settings=settings) for key in keys]
        for document in documents:
            view = states[document["kid"]]
            document["activated"] = view.activated_at
            document["retired"] = view.retired_at
            if view.retired_at is not None:
                document["expires"] = view.retired_at + longest_token_lifetime(
                    settings, key_purpose
                )
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
    purpose: PurposeOption = "oidc",
) -> None:
    """Add next keys that become current after the publish-ahead time (on an empty key store:
    current RS256 and ES256 keys at once; one ES256 key for --purpose federation)."""
    settings = common.settings()
    key_purpose = _purpose(purpose)
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
            purpose=key_purpose,
        )
        documents = [describe(key, settings=settings) for key in created]
    _print_keys(documents, json_output=json_output, verb="Created")


@app.command("generate")
def generate(
    alg: Annotated[str, typer.Option("--alg", help="RS256, PS256, ES256 or EdDSA.")],
    json_output: JsonOption = False,
    purpose: PurposeOption = "oidc",
) -> None:
    """Add a published next key that becomes current only with `idp keys activate`."""
    settings = common.settings()
    algorithm = _algorithm(alg)
    key_purpose = _purpose(purpose)
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        key = service.generate(
            session,
            store=service.key_store(settings),
            algorithm=algorithm,
            now=utc_now(),
            purpose=key_purpose,
        )
        document = describe(key, settings=settings)
    _print_keys([document], json_output=json_output, verb="Created")


def _single(operation: str, kid: str, json_output: bool, purpose: str, **kwargs: Any) -> None:
    settings = common.settings()
    key_purpose = _purpose(purpose)
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        function = getattr(service, operation)
        key = function(session, kid=kid, now=utc_now(), purpose=key_purpose, **kwargs)
        document = describe(key, settings=settings)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"The {document['alg']} key {kid} is now {document['state']}.")


@app.command("activate")
def activate(kid: str, json_output: JsonOption = False, purpose: PurposeOption = "oidc") -> None:
    """Make a next key current now; the previous current key of its algorithm retires."""
    _single("activate", kid, json_output, purpose)


@app.command("retire")
def retire(kid: str, json_output: JsonOption = False, purpose: PurposeOption = "oidc") -> None:
    """Stop signing with a key (still published until its tokens expire)."""
    _single("retire", kid, json_output, purpose)


@app.command("revoke")
def revoke(
    kid: str,
    reason: Annotated[str, typer.Option(help="Why the key is revoked (kept with the key).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
    purpose: PurposeOption = "oidc",
) -> None:
    """Emergency: remove a key from the JWKS at once; tokens it signed stop verifying."""
    key_purpose = _purpose(purpose)
    if not yes:
        if json_output or not sys.stdin.isatty():
            common.fail("Revoking a key needs confirmation; add --yes.")
        typer.confirm(f"Revoke {kid}? Every token it signed stops verifying at once.", abort=True)
    _single("revoke", kid, json_output, key_purpose, reason=reason)


@app.command("prune")
def prune(json_output: JsonOption = False, purpose: PurposeOption = "oidc") -> None:
    """Remove retired keys whose tokens can no longer be valid."""
    settings = common.settings()
    key_purpose = _purpose(purpose)
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        removed = service.prune(
            session,
            store=service.key_store(settings),
            now=utc_now(),
            longest_token_lifetime=longest_token_lifetime(settings, key_purpose),
            purpose=key_purpose,
        )
    if json_output:
        common.print_json({"removed": removed})
    elif removed:
        typer.echo(f"Removed {len(removed)} retired key(s): {', '.join(removed)}.")
    else:
        typer.echo("No retired key can be removed yet.")


@app.command("export-jwks")
def export_jwks(purpose: PurposeOption = "oidc") -> None:
    """Print the public JWK Set the provider publishes (next, current and retired keys); with
    --purpose federation, the Federation Entity Keys a superior pins for this entity."""
    settings = common.settings()
    key_purpose = _purpose(purpose)
    with common.operator_errors(), common.database(settings) as db:
        ring = KeyRing(
            database=db,
            store=service.key_store(settings),
            refresh_seconds=1,
            purpose=key_purpose,
        )
        document = ring.jwks()
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
