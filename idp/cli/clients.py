"""``idp clients``: relying parties registered by operators. Secrets are shown once, stored as
hashes, and never printed again."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from idp.cli import common
from idp.context import utc_now
from idp.oidc.clients import (
    SECRET_METHODS,
    ApplicationType,
    ClientMetadata,
    ClientRegistrationError,
    SubjectType,
    check_sector_identifier,
    hash_client_secret,
    new_client_secret,
    register_client,
    sector_identifier,
    validate_metadata,
)
from idp.storage import clients as client_store
from idp.storage.models import ClientAuthMethod, OAuthClient

app = typer.Typer(help="Relying parties (OAuth clients).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
RedirectOption = Annotated[list[str] | None, typer.Option("--redirect-uri")]
PostLogoutOption = Annotated[list[str] | None, typer.Option("--post-logout-redirect-uri")]
AuthMethodOption = Annotated[
    str | None,
    typer.Option(help="client_secret_basic, client_secret_post, private_key_jwt or none."),
]
GrantOption = Annotated[list[str] | None, typer.Option("--grant-type")]
ScopeOption = Annotated[list[str] | None, typer.Option("--scope")]
TextOption = Annotated[str | None, typer.Option()]
FileOption = Annotated[Path | None, typer.Option()]


def describe(client: OAuthClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "application_type": client.application_type,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scope": " ".join(client.scopes),
        "jwks_uri": client.jwks_uri,
        "jwks": client.jwks,
        "subject_type": client.subject_type,
        "sector_identifier_uri": client.sector_identifier_uri,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "userinfo_signed_response_alg": client.userinfo_signed_response_alg,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "registration_type": client.registration_type,
        "registration_expires_at": client.registration_expires_at,
        "created_at": client.created_at,
        "updated_at": client.updated_at,
    }


def _read_jwks(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        common.fail(f"The JWK Set file {path} cannot be read ({exc.strerror}).")
    except ValueError:
        common.fail(f"The JWK Set file {path} is not valid JSON.")
    if not isinstance(document, dict):
        common.fail(f"The JWK Set file {path} must hold a JSON object with a keys list.")
    return document


def _enum(kind: type, value: str | None, label: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        common.fail(f"Unknown {label} {value!r}; use one of {allowed}.")


def _metadata_of(client: OAuthClient) -> ClientMetadata:
    return ClientMetadata(
        client_name=client.client_name,
        redirect_uris=list(client.redirect_uris),
        token_endpoint_auth_method=ClientAuthMethod(client.token_endpoint_auth_method),
        application_type=ApplicationType(client.application_type),
        grant_types=list(client.grant_types),
        scopes=list(client.scopes),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        jwks=client.jwks,
        jwks_uri=client.jwks_uri,
        subject_type=SubjectType(client.subject_type),
        sector_identifier_uri=client.sector_identifier_uri,
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        userinfo_signed_response_alg=client.userinfo_signed_response_alg,
        backchannel_logout_uri=client.backchannel_logout_uri,
        backchannel_logout_session_required=client.backchannel_logout_session_required,
    )


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Name shown to citizens on the consent page.")],
    redirect_uri: RedirectOption = None,
    post_logout_redirect_uri: PostLogoutOption = None,
    auth_method: AuthMethodOption = "client_secret_basic",
    grant_type: GrantOption = None,
    scope: ScopeOption = None,
    jwks_uri: TextOption = None,
    jwks_file: FileOption = None,
    subject_type: Annotated[str, typer.Option(help="public or pairwise.")] = "public",
    sector_identifier_uri: TextOption = None,
    application_type: Annotated[str, typer.Option(help="web or native.")] = "web",
    id_token_alg: Annotated[str, typer.Option()] = "RS256",
    userinfo_alg: TextOption = None,
    backchannel_logout_uri: TextOption = None,
    client_id: Annotated[
        str | None, typer.Option(help="A fixed client_id (default: random).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Register a client; prints its client_id and, for secret methods, its secret (once)."""
    settings = common.settings()
    metadata = ClientMetadata(
        client_name=name,
        redirect_uris=list(redirect_uri or []),
        token_endpoint_auth_method=_enum(ClientAuthMethod, auth_method, "authentication method"),
        application_type=_enum(ApplicationType, application_type, "application type"),
        grant_types=list(grant_type or []),
        scopes=list(scope or []),
        post_logout_redirect_uris=list(post_logout_redirect_uri or []),
        jwks=_read_jwks(jwks_file),
        jwks_uri=jwks_uri,
        subject_type=_enum(SubjectType, subject_type, "subject type"),
        sector_identifier_uri=sector_identifier_uri,
        id_token_signed_response_alg=id_token_alg,
        userinfo_signed_response_alg=userinfo_alg,
        backchannel_logout_uri=backchannel_logout_uri,
    )
    if client_id is not None and not (1 <= len(client_id) <= 64 and client_id.isprintable()):
        common.fail("The client id must have 1 to 64 printable characters.")
    with (
        common.operator_errors(),
        common.database(settings) as db,
        db.transaction() as session,
    ):
        try:
            if metadata.sector_identifier_uri:
                check_sector_identifier(
                    metadata.sector_identifier_uri, metadata.redirect_uris, settings
                )
            client, secret = register_client(
                session, metadata=metadata, now=utc_now(), client_id=client_id
            )
        except ClientRegistrationError as exc:
            common.fail(str(exc))
        document = describe(client)
    if secret is not None:
        document["client_secret"] = secret
    if json_output:
        common.print_json(document)
        return
    typer.echo(f"client_id: {document['client_id']}")
    if secret is not None:
        typer.echo(f"client_secret: {secret}")
        typer.echo("Store the secret now: it is not shown again.")


def _require(session: Any, client_id: str) -> OAuthClient:
    client = client_store.get_client(session, client_id=client_id)
    if client is None:
        common.fail(f"No client has the id {client_id!r}.")
    return client


@app.command("list")
def list_clients(json_output: JsonOption = False) -> None:
    """List clients (never their secrets)."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        documents = [describe(client) for client in client_store.list_clients(session)]
    if json_output:
        common.print_json(documents)
    else:
        common.print_table(
            documents, ["client_id", "client_name", "token_endpoint_auth_method", "subject_type"]
        )


@app.command("show")
def show(client_id: str, json_output: JsonOption = False) -> None:
    """Show one client (never its secret)."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        document = describe(_require(session, client_id))
    if json_output:
        common.print_json(document)
    else:
        for name, value in document.items():
            typer.echo(f"{name}: {'-' if value is None else value}")


@app.command("update")
def update(
    client_id: str,
    name: TextOption = None,
    redirect_uri: RedirectOption = None,
    post_logout_redirect_uri: PostLogoutOption = None,
    grant_type: GrantOption = None,
    scope: ScopeOption = None,
    jwks_uri: TextOption = None,
    jwks_file: FileOption = None,
    id_token_alg: TextOption = None,
    userinfo_alg: TextOption = None,
    backchannel_logout_uri: TextOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace the given fields; the whole registration is validated again."""
    settings = common.settings()
    jwks = _read_jwks(jwks_file)
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        client = _require(session, client_id)
        metadata = _metadata_of(client)
        changes: dict[str, Any] = {
            "client_name": name,
            "redirect_uris": list(redirect_uri) if redirect_uri else None,
            "post_logout_redirect_uris": (
                list(post_logout_redirect_uri) if post_logout_redirect_uri else None
            ),
            "grant_types": list(grant_type) if grant_type else None,
            "scopes": list(scope) if scope else None,
            "jwks_uri": jwks_uri,
            "jwks": jwks,
            "id_token_signed_response_alg": id_token_alg,
            "userinfo_signed_response_alg": userinfo_alg,
            "backchannel_logout_uri": backchannel_logout_uri,
        }
        merged = replace(metadata, **{k: v for k, v in changes.items() if v is not None})
        if jwks is not None:
            merged = replace(merged, jwks_uri=None)
        if jwks_uri is not None:
            merged = replace(merged, jwks=None)
        try:
            valid = validate_metadata(merged)
        except ClientRegistrationError as exc:
            common.fail(str(exc))
        client.client_name = valid.client_name
        client.redirect_uris = valid.redirect_uris
        client.post_logout_redirect_uris = valid.post_logout_redirect_uris
        client.grant_types = valid.grant_types
        client.scopes = valid.scopes
        client.jwks = valid.jwks
        client.jwks_uri = valid.jwks_uri
        client.id_token_signed_response_alg = valid.id_token_signed_response_alg
        client.userinfo_signed_response_alg = valid.userinfo_signed_response_alg
        client.backchannel_logout_uri = valid.backchannel_logout_uri
        client.sector_identifier = sector_identifier(valid) or client.sector_identifier
        client.updated_at = utc_now()
        document = describe(client)
    if json_output:
        common.print_json(document)
    else:
        typer.echo(f"Updated the client {client_id}.")


@app.command("delete")
def delete(
    client_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete a client with its grants, codes, tokens and consents. Workers that cached it may
    still authenticate it for up to IDP_CLIENT_CACHE_SECONDS (30 s)."""
    if not yes:
        if json_output:
            common.fail("Deleting a client with --json needs --yes.")
        typer.confirm(f"Delete the client {client_id} and every token issued to it?", abort=True)
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        client_store.delete_client(session, client=_require(session, client_id))
    if json_output:
        common.print_json({"client_id": client_id, "deleted": True})
    else:
        typer.echo(f"Deleted the client {client_id}.")


@app.command("rotate-secret")
def rotate_secret(client_id: str, json_output: JsonOption = False) -> None:
    """Give a client a new secret (shown once). It works at once; the old one stops working
    within IDP_CLIENT_CACHE_SECONDS (30 s) in every worker."""
    settings = common.settings()
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        client = _require(session, client_id)
        if client.token_endpoint_auth_method not in SECRET_METHODS:
            common.fail(
                f"The client {client_id} authenticates with "
                f"{client.token_endpoint_auth_method}; it has no secret to rotate."
            )
        secret = new_client_secret()
        client.secret_hash = hash_client_secret(secret)
        client.secret_rotated_at = client.updated_at = utc_now()
    if json_output:
        common.print_json({"client_id": client_id, "client_secret": secret})
    else:
        typer.echo(f"client_secret: {secret}")
        typer.echo("Store the secret now: it is not shown again.")
