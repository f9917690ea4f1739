"""Fixtures of the CLI tests: the ``idp`` command bound to a database and a keys folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Cli


@pytest.fixture(autouse=True)
def _run_in_a_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands read ``.env`` and the default ``var/`` and ``keys/`` relative to the working
    folder: run them where neither the developer's files nor the repository's can leak in."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    """The CLI on a migrated database, on SQLite and on PostgreSQL."""
    return Cli(database_url=database_url, keys_dir=tmp_path / "keys")


@pytest.fixture
def sqlite_cli(sqlite_database_url: str, tmp_path: Path) -> Cli:
    """The CLI on a migrated SQLite database, for tests whose subject is not the backend."""
    return Cli(database_url=sqlite_database_url, keys_dir=tmp_path / "keys")


@pytest.fixture
def empty_cli(empty_database_url: str, tmp_path: Path) -> Cli:
    """The CLI on an empty database: a SQLite file that does not exist yet, or a PostgreSQL
    database without tables."""
    return Cli(database_url=empty_database_url, keys_dir=tmp_path / "keys")
