"""``idp keys``: the initial signing keys of a new installation, the list of keys, and the
lifecycle commands with good and bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from idp.signing_keys.algorithms import SigningAlgorithm, public_jwk
from tests.cli.helpers import Cli, row_counts

KEY_FIELDS = {
    "kid",
    "alg",
    "purpose",
    "state",
    "created",
    "activated",
    "activate_after",
    "retired",
    "expires",
}


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
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's only signal for it
        serialization.load_pem_private_key(pem, password=b"not the passphrase at all")
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


def test_a_second_rotate_publishes_next_keys_and_a_third_is_refused(cli: Cli) -> None:
    cli.json("keys", "rotate")
    created = cli.json("keys", "rotate", "--publish-ahead", "2h")
    assert sorted(key["alg"] for key in created) == ["ES256", "RS256"]
    assert all(key["state"] == "next" and key["activate_after"] for key in created)
    before = cli.snapshot()

    cli.refuses(
        "keys",
        "rotate",
        "--json",
        message=f"A ES256 key ({next(k['kid'] for k in created if k['alg'] == 'ES256')}) is "
        "already waiting to become current; activate or revoke it before rotating again.",
    )

    assert cli.snapshot() == before


def test_rotate_with_no_publish_ahead_switches_at_once(sqlite_cli: Cli) -> None:
    first = {key["alg"]: key["kid"] for key in sqlite_cli.json("keys", "rotate")}
    second = {
        key["alg"]: key["kid"]
        for key in sqlite_cli.json("keys", "rotate", "--alg", "RS256", "--publish-ahead", "0")
    }
    states = {key["kid"]: key["state"] for key in sqlite_cli.json("keys", "list")}
    assert states[second["RS256"]] == "current"
    assert states[first["RS256"]] == "retired"
    assert states[first["ES256"]] == "current"


def test_rotate_if_older_than_leaves_young_keys_alone(sqlite_cli: Cli) -> None:
    sqlite_cli.json("keys", "rotate")
    before = sqlite_cli.snapshot()
    assert sqlite_cli.json("keys", "rotate", "--if-older-than", "90d") == []
    assert sqlite_cli.snapshot() == before


def test_bad_durations_and_algorithms_are_refused(sqlite_cli: Cli) -> None:
    sqlite_cli.json("keys", "rotate")
    before = sqlite_cli.snapshot()
    sqlite_cli.refuses(
        "keys",
        "rotate",
        "--publish-ahead",
        "soon",
        message="--publish-ahead: The duration 'soon' is not valid; use a number with s, m, h, "
        "d or w (e.g. 90d).",
    )
    sqlite_cli.refuses(
        "keys",
        "generate",
        "--alg",
        "HS256",
        message="Unknown algorithm 'HS256'; use one of RS256, PS256, ES256, EdDSA.",
    )
    assert sqlite_cli.snapshot() == before


def test_retiring_or_revoking_the_only_current_key_is_refused(sqlite_cli: Cli) -> None:
    keys = {key["alg"]: key["kid"] for key in sqlite_cli.json("keys", "rotate")}
    before = sqlite_cli.snapshot()
    rsa_kid = keys["RS256"]
    sqlite_cli.refuses(
        "keys",
        "retire",
        "--",
        rsa_kid,
        message=f"Retiring {rsa_kid} would leave no current RS256 key; run "
        "`idp keys rotate --alg RS256` first.",
    )
    sqlite_cli.refuses(
        "keys",
        "revoke",
        "--reason",
        "test",
        "--yes",
        "--",
        keys["ES256"],
        message=f"Revoking {keys['ES256']} would leave no current ES256 key; run "
        "`idp keys rotate --alg ES256 --publish-ahead 0` first.",
    )
    sqlite_cli.refuses(
        "keys",
        "revoke",
        "unknown-kid",
        "--reason",
        "x",
        "--yes",
        message="There is no key with kid unknown-kid.",
    )
    sqlite_cli.refuses(
        "keys",
        "revoke",
        "--reason",
        "x",
        "--",
        rsa_kid,
        message="Revoking a key needs confirmation; add --yes.",
    )
    assert sqlite_cli.snapshot() == before


def test_generate_activate_revoke_prune_and_export(sqlite_cli: Cli) -> None:
    first = {key["alg"]: key["kid"] for key in sqlite_cli.json("keys", "rotate")}
    generated = sqlite_cli.json("keys", "generate", "--alg", "PS256")[0]
    assert generated["state"] == "next"
    activated = json.loads(sqlite_cli.ok("keys", "activate", "--json", "--", generated["kid"]))
    assert activated["state"] == "current"

    sqlite_cli.json("keys", "rotate", "--alg", "RS256", "--publish-ahead", "0")
    revoked = json.loads(
        sqlite_cli.ok(
            "keys", "revoke", "--reason", "drill", "--yes", "--json", "--", first["RS256"]
        )
    )
    assert revoked["state"] == "revoked"

    jwks = json.loads(sqlite_cli.ok("keys", "export-jwks"))
    kids = {key["kid"] for key in jwks["keys"]}
    assert first["RS256"] not in kids
    assert {first["ES256"], generated["kid"]} <= kids
    assert all("d" not in key for key in jwks["keys"])

    # Nothing retired can be pruned before its tokens expire; the revoked key's file goes.
    assert sqlite_cli.json("keys", "prune") == {"removed": []}
    files = {path.name for path in sqlite_cli.keys_dir.iterdir()}
    assert not any(first["RS256"] in name for name in files)


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

    assert lines[0].split() == [
        "kid",
        "alg",
        "purpose",
        "state",
        "created",
        "activated",
        "retired",
        "expires",
    ]
    body = sorted(line.split()[:4] for line in lines[1:])
    assert body == sorted(
        [row["kid"], row["alg"], "oidc", "current"] for row in sqlite_cli.key_rows()
    )
    assert all(line.split()[-2:] == ["-", "-"] for line in lines[1:])  # never retired


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


def test_rotating_with_a_wrong_passphrase_is_refused_and_writes_nothing(sqlite_cli: Cli) -> None:
    sqlite_cli.json("keys", "rotate")
    before = sqlite_cli.snapshot()
    for command in (["keys", "rotate"], ["keys", "generate", "--alg", "PS256"]):
        result = sqlite_cli.run(*command, env={"IDP_KEY_PASSPHRASE": "not the right passphrase"})
        assert result.exit_code != 0
        assert (
            "cannot be decrypted: the passphrase is wrong or the file is corrupted" in result.stderr
        )
        assert sqlite_cli.snapshot() == before


def test_a_corrupted_key_file_stops_rotation(sqlite_cli: Cli) -> None:
    sqlite_cli.json("keys", "rotate")
    victim = sorted(sqlite_cli.keys_dir.iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:60] + b"garbage" + victim.read_bytes()[67:])
    before = sqlite_cli.snapshot()
    result = sqlite_cli.run("keys", "rotate")
    assert result.exit_code != 0
    assert "cannot be decrypted" in result.stderr
    assert sqlite_cli.snapshot() == before
