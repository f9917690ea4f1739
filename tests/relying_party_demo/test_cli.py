"""``rp-demo register``: registers the portal through the provider's rules, idempotently."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from idp.oidc.clients import ApplicationType, ClientMetadata, GrantType, register_client
from idp.storage.database import Database, create_database_engine
from idp.storage.models import ClientAuthMethod
from relying_party_demo.cli import app
from tests.cli.helpers import table_rows
from tests.conftest import TEST_PASSPHRASE


@pytest.fixture(autouse=True)
def _run_in_a_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def _run(database_url: str, tmp_path: Path, *args: str, **env: str) -> Result:
    values = {
        "IDP_DATABASE_URL": database_url,
        "IDP_KEYS_DIR": str(tmp_path / "keys"),
        "IDP_KEY_PASSPHRASE": TEST_PASSPHRASE,
        **env,
    }
    return CliRunner().invoke(app, list(args), env=values)


def test_register_creates_the_client_then_keeps_its_id(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    first = _run(sqlite_database_url, tmp_path, "register", "--json")
    assert first.exit_code == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["client_id"] == "tramites-demo"
    assert created["created"] is True
    assert created["token_endpoint_auth_method"] == "private_key_jwt"
    assert created["redirect_uris"] == [
        "http://127.0.0.1:8001/callback",
        "http://127.0.0.1:8001/firma/vuelta",
    ]
    assert created["post_logout_redirect_uris"] == ["http://127.0.0.1:8001/"]
    # Logins, and the signature API through the client_credentials grant.
    assert created["grant_types"] == ["authorization_code", "client_credentials"]
    assert created["scopes"] == ["openid", "profile", "email", "document", "signature"]
    key_file = Path("var/rp-demo/client-key.pem")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    second = _run(
        sqlite_database_url, tmp_path, "register", "--json", RP_BASE_URL="http://127.0.0.1:9001"
    )
    assert second.exit_code == 0, second.stderr
    updated = json.loads(second.stdout)
    assert updated["created"] is False
    assert updated["kid"] == created["kid"]  # the same key is reused
    assert updated["redirect_uris"] == [
        "http://127.0.0.1:9001/callback",
        "http://127.0.0.1:9001/firma/vuelta",
    ]
    rows = list(table_rows(sqlite_database_url, "oauth_client"))
    assert [row["client_id"] for row in rows] == ["tramites-demo"]
    jwks = rows[0]["jwks"]
    jwks = json.loads(jwks) if isinstance(jwks, str) else jwks
    (key,) = jwks["keys"]
    assert key["kid"] == created["kid"]
    assert "d" not in key  # only the public key is registered


def test_register_prints_one_sentence(sqlite_database_url: str, tmp_path: Path) -> None:
    result = _run(sqlite_database_url, tmp_path, "register")
    assert result.exit_code == 0
    assert result.stdout.startswith("Registered the portal as the client tramites-demo")
    again = _run(sqlite_database_url, tmp_path, "register")
    assert again.stdout.startswith("Updated the portal as the client tramites-demo")


def test_register_refuses_a_portal_of_another_provider(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    result = _run(sqlite_database_url, tmp_path, "register", RP_ISSUER="https://idp.example.gub.uy")
    assert result.exit_code == 1
    assert "RP_ISSUER (https://idp.example.gub.uy) is not the provider's IDP_ISSUER" in (
        result.stderr
    )


def test_register_refuses_what_the_provider_refuses(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    result = _run(
        sqlite_database_url, tmp_path, "register", RP_BASE_URL="http://portal.example.gub.uy"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: RP_BASE_URL must use https")


def test_serve_refuses_a_missing_key_in_production(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["serve"],
        env={
            "RP_ENV": "production",
            "RP_BASE_URL": "https://tramites.example.gub.uy",
            "RP_ISSUER": "https://idp.example.gub.uy",
            "RP_SESSION_SECRET": "x" * 40,
            "RP_KEY_FILE": str(tmp_path / "missing.pem"),
        },
    )
    assert result.exit_code == 1
    assert "does not exist; set RP_KEY_FILE" in result.stderr
    assert not (tmp_path / "missing.pem").exists()


def test_register_adds_signing_to_an_older_login_only_registration(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    database = Database(create_database_engine(sqlite_database_url))
    try:
        with database.transaction() as session:
            register_client(
                session,
                metadata=ClientMetadata(
                    client_name="Portal de trámites (demostración)",
                    redirect_uris=["http://127.0.0.1:8001/callback"],
                    token_endpoint_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
                    application_type=ApplicationType.WEB,
                    grant_types=[GrantType.AUTHORIZATION_CODE],
                    scopes=["openid", "profile"],
                ),
                now=datetime.now(UTC),
                client_id="tramites-demo",
            )
    finally:
        database.dispose()
    result = _run(sqlite_database_url, tmp_path, "register", "--json")
    assert result.exit_code == 0, result.stderr
    updated = json.loads(result.stdout)
    assert updated["created"] is False
    assert updated["token_endpoint_auth_method"] == "private_key_jwt"
    assert updated["grant_types"] == ["authorization_code", "client_credentials"]
    assert "signature" in updated["scopes"]
    assert "http://127.0.0.1:8001/firma/vuelta" in updated["redirect_uris"]
