"""Run the Alembic migrations programmatically (``idp db upgrade`` and the tests).

The scripts live in the project's ``migrations/`` folder and are installed as the package
``idp.migrations``; from a checkout they are found next to the ``idp`` package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import idp


def migrations_folder() -> Path:
    """Where the Alembic scripts are, installed or in a checkout."""
    checkout = Path(idp.__file__).resolve().parent.parent / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    spec = importlib.util.find_spec("idp.migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    raise FileNotFoundError("The Alembic migration scripts are not installed with idp.")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the database behind ``engine`` to the newest schema; a no-op when it is there."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
