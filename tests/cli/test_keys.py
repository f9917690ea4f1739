"""``idp keys``: the initial signing keys of a new installation, and the list of keys."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from idp.signing_keys.algorithms import SigningAlgorithm, public_jwk
from tests.cli.helpers import Cli, row_counts

KEY_FIELDS = {"kid", "alg", "purpose", "state", "created", "activated", "retired"}


def test_rotate_on_an_empty_store_creates_current_rs256_and_es256_keys(cli: Cli) -> None:
    created = cli.json("keys", "rotate")

    assert isinstance(created, list)
    assert sorted(key["alg"] for key in created) == ["ES256", "RS256"]
    for key in created:
        assert set(key) == KEY_FIELDS
        assert (key["purpose"], key["state"], key["retired"]) == ("oidc", "current", None)
        assert key["activated"] == key["created"]

    rows = {row["kid"]: row for row in cli.key_rows()}
    assert set(rows) == {key["kid"] for key in created}
    assert row_counts(cli) == {"citizen": 0, "identity_verification": 0, "signing_key": 2}

    # Exactly one file per key, nothing else (no temporary file left behind).
    files = sorted(cli.keys_dir.iterdir())
    assert sorted(path.name for path in files) == sorted(row["file_name"] for row in rows.values())
    assert stat.S_IMODE(cli.keys_dir.stat().st_mode) == 0o700
    for row in rows.values():
        _check_key_file(cli, row)


def _check_key_file(cli: Cli, row: dict[str, Any]) -> None:
    path: Path = cli.keys_dir / row["file_name"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert b"-----BEGIN PRIVATE KEY-----" not in pem
    # Only the passphrase opens it, and it holds the key its row (and kid) names.
    try:
        serialization.load_pem_private_key(pem, password=b"not the passphrase at all")
    except ValueError:
        pass
    else:
        raise AssertionError("the key file opened with a wrong passphrase")
    key = serialization.load_pem_private_key(pem, password=cli.passphrase.encode())
    algorithm = SigningAlgorithm(row["alg"])
    if algorithm is SigningAlgorithm.RS256:
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size >= 2048
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert isinstance(key.curve, ec.SECP256R1)
    assert public_jwk(key, algorithm)["kid"] == row["kid"]
    stored_jwk = row["public_jwk"]
    if isinstance(stored_jwk, str):  # SQLite hands JSON columns back as text to raw queries
        stored_jwk = json.loads(stored_jwk)
    assert stored_jwk["kid"] == row["kid"]


def test_rotate_without_json_names_the_keys(sqlite_cli: Cli) -> None:
    lines = sqlite_cli.ok("keys", "rotate").splitlines()
    rows = {row["alg"]: row["kid"] for row in sqlite_cli.key_rows()}
    assert sorted(lines) == sorted(f"Created current {alg} key {kid}." for alg, kid in rows.items())


def test_a_second_rotate_is_refused_and_changes_nothing(cli: Cli) -> None:
    cli.json("keys", "rotate")
    before = cli.snapshot()
    assert len(before["keys"]) == 2

    cli.refuses(
        "keys",
        "rotate",
        "--json",
        message="The key store already has keys; rotating existing keys is not available yet.",
    )

    assert cli.snapshot() == before


def test_list_shows_the_keys_rotate_created(cli: Cli) -> None:
    assert cli.json("keys", "list") == []
    created = cli.json("keys", "rotate")

    listed = cli.json("keys", "list")

    assert isinstance(listed, list)
    assert sorted(listed, key=lambda key: key["kid"]) == sorted(created, key=lambda key: key["kid"])


def test_list_without_json_prints_a_table(sqlite_cli: Cli) -> None:
    assert sqlite_cli.ok("keys", "list") == "(none)\n"
    sqlite_cli.ok("keys", "rotate")

    lines = sqlite_cli.ok("keys", "list").splitlines()

    assert lines[0].split() == ["kid", "alg", "purpose", "state", "created", "activated", "retired"]
    body = sorted(line.split()[:4] for line in lines[1:])
    assert body == sorted(
        [row["kid"], row["alg"], "oidc", "current"] for row in sqlite_cli.key_rows()
    )
    assert all(line.rstrip().endswith("-") for line in lines[1:])  # never retired


def test_rotate_refuses_a_keys_folder_it_cannot_create(sqlite_cli: Cli, tmp_path: Path) -> None:
    # Running as root defeats permission bits, so block the folder with a file instead.
    sqlite_cli.keys_dir = tmp_path / "not-a-folder"
    sqlite_cli.keys_dir.write_text("in the way\n")
    before = sqlite_cli.snapshot()

    sqlite_cli.refuses(
        "keys",
        "rotate",
        "--json",
        message=f"The keys folder {sqlite_cli.keys_dir} cannot be created (File exists).",
    )

    assert sqlite_cli.snapshot() == before
    assert sqlite_cli.key_rows() == []
