"""``rp-demo``: the relying-party demo portal's command.

- ``rp-demo register``: register the portal at the provider (in process, through the
  provider's own registration rules, reading the provider's ``IDP_*`` settings): logins, and
  signature requests (client_credentials with the ``signature`` scope); idempotent.
- ``rp-demo serve``: serve the portal with uvicorn.

Errors are one sentence on stderr with a non-zero exit code, like the ``idp`` command.
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer
import uvicorn

from relying_party_demo.config import PortalSettings, PortalSettingsError, load_portal_settings
from relying_party_demo.keys import load_client_key

app = typer.Typer(
    help="The relying-party demo portal (trámites) of the national identity provider.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _settings() -> PortalSettings:
    try:
        return load_portal_settings()
    except PortalSettingsError as exc:
        _fail(str(exc))


@app.command("register")
def register(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Register (or refresh) the portal as a private_key_jwt client at the provider, for logins
    and for signature requests."""
    from idp.cli import common
    from idp.context import utc_now
    from idp.oidc.clients import ClientRegistrationError
    from relying_party_demo.registration import register_portal

    settings = _settings()
    try:
        client_key = load_client_key(settings)
    except PortalSettingsError as exc:
        _fail(str(exc))
    provider_settings = common.settings()
    if provider_settings.issuer != settings.issuer:
        _fail(
            f"RP_ISSUER ({settings.issuer}) is not the provider's IDP_ISSUER "
            f"({provider_settings.issuer}); set both to the same URL."
        )
    with (
        common.operator_errors(),
        common.database(provider_settings) as db,
        db.transaction() as session,
    ):
        try:
            registration = register_portal(
                session, settings=settings, jwks=client_key.public_jwks, now=utc_now()
            )
        except ClientRegistrationError as exc:
            _fail(str(exc))
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "client_id": registration.client_id,
                    "created": registration.created,
                    "token_endpoint_auth_method": registration.token_endpoint_auth_method,
                    "redirect_uris": registration.redirect_uris,
                    "post_logout_redirect_uris": registration.post_logout_redirect_uris,
                    "grant_types": registration.grant_types,
                    "scopes": registration.scopes,
                    "kid": client_key.kid,
                }
            )
        )
        return
    verb = "Registered" if registration.created else "Updated"
    typer.echo(
        f"{verb} the portal as the client {registration.client_id} "
        f"({registration.token_endpoint_auth_method}, key {client_key.kid})."
    )


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8001,
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Serve the portal."""
    from relying_party_demo.app import create_app

    settings = _settings()
    try:
        application = create_app(settings)
    except PortalSettingsError as exc:
        _fail(str(exc))
    typer.echo(f"Portal de trámites {settings.base_url} listening on http://{host}:{port}")
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=True,
        server_header=False,
        access_log=False,
    )


def main() -> None:
    app()
