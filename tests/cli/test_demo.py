"""``idp demo seed``: development keys and the four demo citizens, idempotent, never in
production."""

from __future__ import annotations

import base64
from pathlib import Path

from sqlalchemy import select

from idp.assurance import totp
from idp.context import utc_now
from idp.storage.database import Database, create_database_engine
from idp.storage.models import TotpCredential
from tests.cli.helpers import Cli, create_user, row_counts
from tests.conftest import TEST_PASSPHRASE

DEMO_USERNAMES = ["1.234.567-2", "2.345.678-3", "3.456.789-4", "4.567.890-5"]
PRODUCTION = {
    "IDP_ENV": "production",
    "IDP_KEY_PASSPHRASE": TEST_PASSPHRASE,  # 16+ characters, not the development one
    "IDP_PAIRWISE_SALT": "a production pairwise salt, long enough",
}


def test_seed_twice_creates_the_demo_once(cli: Cli) -> None:
    first = cli.json("demo", "seed")

    assert len(first["created_keys"]) == 2
    assert [login["username"] for login in first["logins"]] == DEMO_USERNAMES
    assert [login["verification_level"] for login in first["logins"]] == [0, 1, 2, 3]
    assert {login["password"] for login in first["logins"]} == {"demo-ciudadania"}
    assert row_counts(cli) == {"citizen": 4, "identity_verification": 3, "signing_key": 2}
    assert sorted(row["kid"] for row in cli.key_rows()) == sorted(first["created_keys"])
    assert len(cli.snapshot()["keys"]) == 2
    verifiers = {row["verifier"] for row in cli.verification_rows()}
    assert verifiers == {"demo seed"}
    after_first = cli.snapshot()

    second = cli.json("demo", "seed")

    assert second == {"created_keys": [], "logins": first["logins"]}
    assert cli.snapshot() == after_first


def test_seed_keeps_an_existing_account_and_existing_keys(sqlite_cli: Cli) -> None:
    mine = create_user(sqlite_cli, "1.234.567-2")  # María Rodríguez, level 0, own password
    own_hash = sqlite_cli.citizen_rows()[0]["password_hash"]
    sqlite_cli.ok("keys", "rotate")
    keys_before = sqlite_cli.snapshot()["keys"]

    result = sqlite_cli.json("demo", "seed")

    assert result["created_keys"] == []
    assert sqlite_cli.snapshot()["keys"] == keys_before
    assert row_counts(sqlite_cli)["citizen"] == 4
    (row,) = [row for row in sqlite_cli.citizen_rows() if row["username"] == "12345672"]
    assert (row["id"], row["password_hash"]) == (mine["id"], own_hash)


def test_seed_without_json_prints_the_logins(sqlite_cli: Cli) -> None:
    lines = sqlite_cli.ok("demo", "seed").splitlines()
    assert lines[0].startswith("Created development signing keys: ")
    assert lines[1] == "Demo logins (document number / password):"
    assert len(lines) == 7
    for line, username in zip(lines[2:6], DEMO_USERNAMES, strict=True):
        assert line.split()[:2] == [username, "demo-ciudadania"]
    assert lines[2].endswith("(verification level 0)")
    assert lines[5].endswith("(verification level 3, authenticator app set up)")
    assert lines[6].startswith("Demo authenticator secret (TOTP): ")
    # A second run creates no keys, so it does not claim to.
    assert sqlite_cli.ok("demo", "seed").splitlines()[0] == (
        "Demo logins (document number / password):"
    )


def test_seed_is_refused_in_production(tmp_path: Path) -> None:
    """Valid production settings reach the command itself, which refuses before it even
    connects: the database URL points at a port where nothing listens."""
    cli = Cli(database_url="postgresql+psycopg://idp@127.0.0.1:9/idp", keys_dir=tmp_path / "keys")
    cli.refuses(
        "demo", "seed", "--json", env=PRODUCTION, message="Demo data is refused in production mode."
    )
    assert not cli.keys_dir.exists()


def test_production_settings_are_checked_before_anything(sqlite_cli: Cli) -> None:
    """A SQLite file in a temporary folder is refused by production settings first."""
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "demo",
        "seed",
        env=PRODUCTION,
        message="Production mode refuses a SQLite database in a temporary folder; "
        "set IDP_DATABASE_URL to durable storage.",
    )
    assert sqlite_cli.snapshot() == before
    assert before["keys"] is None


def test_seed_sets_up_the_demo_authenticator_for_levels_2_and_3(cli: Cli) -> None:
    logins = cli.json("demo", "seed")["logins"]
    secrets_by_level = {login["verification_level"]: login["totp_secret"] for login in logins}
    assert secrets_by_level[0] is None
    assert secrets_by_level[1] is None
    assert secrets_by_level[2] == secrets_by_level[3]
    secret = base64.b32decode(secrets_by_level[2])

    database = Database(create_database_engine(cli.database_url))
    try:
        with database.transaction() as session:
            rows = session.scalars(select(TotpCredential)).all()
            assert len(rows) == 2
            assert all(row.confirmed_at is not None for row in rows)
            assert all(secrets_by_level[2] not in row.secret_encrypted for row in rows)
    finally:
        database.dispose()

    code = cli.ok("demo", "totp-code").strip()
    assert totp.matching_steps(secret, code, now=utc_now())  # the page would accept it
    cli.json("demo", "seed")  # a second run adds nothing
    database = Database(create_database_engine(cli.database_url))
    try:
        with database.transaction() as session:
            assert len(session.scalars(select(TotpCredential)).all()) == 2
    finally:
        database.dispose()
