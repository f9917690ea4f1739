"""The installed ``idp`` console script, run as an operator runs it: a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from idp.storage.migrate import head_revision
from tests.cli.helpers import PASSWORD, Cli, row_counts, sqlite_file
from tests.conftest import TEST_PASSPHRASE

IDP = Path(sys.executable).with_name("idp")
TIMEOUT_SECONDS = 60


def run_idp(
    args: list[str], *, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    assert IDP.is_file(), f"the console script is not installed at {IDP}"
    return subprocess.run(
        [str(IDP), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def process_env(**settings: str) -> dict[str, str]:
    """The test's environment (the ambient IDP_* variables are already removed) plus these."""
    return {**os.environ, **settings}


def one_json_document(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_a_new_installation_end_to_end(empty_database_url: str, tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    env = process_env(
        IDP_DATABASE_URL=empty_database_url,
        IDP_KEYS_DIR=str(keys_dir),
        IDP_KEY_PASSPHRASE=TEST_PASSPHRASE,
    )
    cwd = tmp_path / "operator"
    cwd.mkdir()
    outputs: list[subprocess.CompletedProcess[str]] = []

    def idp(*args: str, stdin: str | None = None) -> Any:
        result = run_idp(list(args), env=env, cwd=cwd, stdin=stdin)
        outputs.append(result)
        return one_json_document(result)

    assert idp("db", "upgrade", "--json") == {
        "from_revision": None,
        "to_revision": head_revision(),
    }
    created = idp(
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "María",
        "--family-name",
        "Rodríguez",
        "--birthdate",
        "1985-04-12",
        "--verification-level",
        "2",
        "--password-stdin",
        "--json",
        stdin=f"{PASSWORD}\nthe second line is not read\n",
    )
    assert (created["username"], created["given_name"], created["verification_level"]) == (
        "12345672",
        "María",
        2,
    )

    # Read back by another process, typed as the citizen types it.
    assert idp("users", "show", "1 234 567-2", "--json") == created

    cli = Cli(database_url=empty_database_url, keys_dir=keys_dir)
    assert row_counts(cli) == {"citizen": 1, "identity_verification": 1, "signing_key": 0}
    assert not keys_dir.exists()
    # The password went through stdin only: never echoed in any output.
    for result in outputs:
        assert PASSWORD not in result.stdout
        assert PASSWORD not in result.stderr
    # With the settings given, nothing lands in the working folder (no default var/ or keys/).
    assert list(cwd.iterdir()) == []


def test_serve_refuses_a_database_that_was_never_created(tmp_path: Path) -> None:
    """A real process's refusal: exit code 1, one line on stderr, nothing on stdout or disk.

    Run as a process with a timeout: if the refusal ever broke, the server would start."""
    database = tmp_path / "var" / "idp.sqlite3"
    keys_dir = tmp_path / "keys"
    env = process_env(IDP_DATABASE_URL=f"sqlite:///{database}", IDP_KEYS_DIR=str(keys_dir))

    result = run_idp(["serve", "--port", "1"], env=env, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: The database {database} does not exist yet; run `idp db upgrade` to create it.\n"
    )
    assert sqlite_file(env["IDP_DATABASE_URL"]) == database
    assert not database.parent.exists()
    assert not keys_dir.exists()
