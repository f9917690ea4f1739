"""``idp clients``: registration with good and bad input; secrets shown once, stored hashed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idp.oidc.clients import client_secret_matches
from tests.cli.helpers import Cli, table_rows

URI = "https://tramites.example.gub.uy/callback"


def stored(cli: Cli, client_id: str) -> dict:
    (row,) = [
        row for row in table_rows(cli.database_url, "oauth_client") if row["client_id"] == client_id
    ]
    return row


def test_create_prints_the_secret_once_and_stores_its_hash(cli: Cli) -> None:
    created = cli.json("clients", "create", "--name", "Trámites", "--redirect-uri", URI)
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    secret = created["client_secret"]
    row = stored(cli, created["client_id"])
    assert secret not in json.dumps(row, default=str)
    assert client_secret_matches(row["secret_hash"], secret)
    shown = cli.json("clients", "show", created["client_id"])
    listed = cli.json("clients", "list")
    assert "client_secret" not in shown
    assert secret not in json.dumps(listed)


def test_rotate_secret_invalidates_the_old_one(sqlite_cli: Cli) -> None:
    created = sqlite_cli.json("clients", "create", "--name", "A", "--redirect-uri", URI)
    rotated = sqlite_cli.json("clients", "rotate-secret", created["client_id"])
    row = stored(sqlite_cli, created["client_id"])
    assert client_secret_matches(row["secret_hash"], rotated["client_secret"])
    assert not client_secret_matches(row["secret_hash"], created["client_secret"])


def test_client_credentials_only_when_asked(sqlite_cli: Cli) -> None:
    created = sqlite_cli.json(
        "clients", "create", "--name", "Batch", "--grant-type", "client_credentials"
    )
    assert created["grant_types"] == ["client_credentials"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--redirect-uri", "http://tramites.example.gub.uy/cb"],
            "must use https (http only on a loopback address)",
        ),
        (["--redirect-uri", URI + "#frag"], "must not have a fragment"),
        (
            ["--redirect-uri", "https://user@tramites.example.gub.uy/cb"],
            "must not carry user information",
        ),
        (["--redirect-uri", "javascript:alert(1)"], "uses the unsafe scheme javascript:"),
        (["--redirect-uri", "https://*.example.gub.uy/cb"], "must not contain wildcards"),
        (["--redirect-uri", "uy.gub.app:/cb"], "private-use schemes are for native apps"),
        (
            ["--redirect-uri", URI, "--auth-method", "none", "--grant-type", "client_credentials"],
            "only for confidential clients",
        ),
        (
            ["--redirect-uri", URI, "--auth-method", "private_key_jwt"],
            "needs --jwks-uri or --jwks-file",
        ),
        (["--redirect-uri", URI, "--scope", "admin"], "Unknown scope 'admin'"),
        (["--redirect-uri", URI, "--grant-type", "password"], "Unknown grant type 'password'"),
        (
            ["--redirect-uri", URI, "--id-token-alg", "HS256"],
            "Unsupported ID token algorithm 'HS256'",
        ),
        (
            ["--redirect-uri", URI, "--auth-method", "magic"],
            "Unknown authentication method 'magic'",
        ),
        (
            [
                "--redirect-uri",
                URI,
                "--redirect-uri",
                "https://other.example.gub.uy/cb",
                "--subject-type",
                "pairwise",
            ],
            "needs a sector_identifier_uri",
        ),
    ],
)
def test_bad_registrations_are_refused_and_write_nothing(
    cli: Cli, arguments: list[str], message: str
) -> None:
    before = cli.snapshot()
    result = cli.run("clients", "create", "--name", "X", *arguments, "--json")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert cli.snapshot() == before


def test_duplicate_client_id_is_refused(sqlite_cli: Cli) -> None:
    sqlite_cli.json(
        "clients", "create", "--name", "A", "--redirect-uri", URI, "--client-id", "rp-1"
    )
    before = sqlite_cli.snapshot()
    result = sqlite_cli.run(
        "clients", "create", "--name", "B", "--redirect-uri", URI, "--client-id", "rp-1"
    )
    assert result.exit_code != 0
    assert "A client with the id rp-1 already exists." in result.stderr
    assert sqlite_cli.snapshot() == before


def test_a_jwks_file_with_a_private_key_is_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(
        json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}]})
    )
    result = sqlite_cli.run(
        "clients",
        "create",
        "--name",
        "A",
        "--redirect-uri",
        URI,
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        str(path),
    )
    assert result.exit_code != 0
    assert "only public asymmetric keys" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    result = sqlite_cli.run(
        "clients",
        "create",
        "--name",
        "A",
        "--redirect-uri",
        URI,
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        str(bad),
    )
    assert f"The JWK Set file {bad} is not valid JSON." in result.stderr


def test_update_validates_and_delete_needs_confirmation(sqlite_cli: Cli) -> None:
    created = sqlite_cli.json("clients", "create", "--name", "A", "--redirect-uri", URI)
    client_id = created["client_id"]
    updated = sqlite_cli.json("clients", "update", client_id, "--name", "Nuevo nombre")
    assert updated["client_name"] == "Nuevo nombre"
    before = sqlite_cli.snapshot()
    refused = sqlite_cli.run(
        "clients", "update", client_id, "--redirect-uri", "http://evil.example/cb"
    )
    assert refused.exit_code != 0
    assert sqlite_cli.snapshot() == before
    assert sqlite_cli.run("clients", "delete", client_id, "--json").exit_code != 0
    assert sqlite_cli.json("clients", "delete", client_id, "--yes") == {
        "client_id": client_id,
        "deleted": True,
    }
    missing = sqlite_cli.run("clients", "show", client_id)
    assert f"No client has the id '{client_id}'." in missing.stderr


def test_a_sector_identifier_uri_on_a_private_address_is_refused(sqlite_cli: Cli) -> None:
    before = sqlite_cli.snapshot()
    result = sqlite_cli.run(
        "clients",
        "create",
        "--name",
        "A",
        "--redirect-uri",
        URI,
        "--subject-type",
        "pairwise",
        "--sector-identifier-uri",
        "https://127.0.0.1:9/sector.json",
    )
    assert result.exit_code != 0
    assert "cannot be fetched (the host resolves to a non-public address)" in result.stderr
    assert sqlite_cli.snapshot() == before


def test_a_sector_identifier_uri_must_list_the_redirect_uris(sqlite_cli: Cli) -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(["https://other.example.gub.uy/cb"]).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = sqlite_cli.run(
            "clients",
            "create",
            "--name",
            "A",
            "--redirect-uri",
            URI,
            "--subject-type",
            "pairwise",
            "--sector-identifier-uri",
            f"http://127.0.0.1:{server.server_address[1]}/s.json",
            env={"IDP_ALLOW_PRIVATE_NETWORK_FETCHES": "true"},
        )
    finally:
        server.shutdown()
    assert result.exit_code != 0
    assert f"does not list the redirect URI {URI!r}" in result.stderr
