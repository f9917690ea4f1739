"""Alembic environment: the URL comes from the provider's settings, the target from its models.

A caller may hand over an open connection (``config.attributes["connection"]``), which is how
``idp db upgrade`` and the tests run migrations on exactly the database they mean.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from idp.config import load_settings
from idp.storage import models  # noqa: F401 - registers every table on Base.metadata
from idp.storage.base import Base
from idp.storage.database import create_database_engine
from idp.storage.types import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our UTC timestamp type as plain ``sa.DateTime(timezone=True)`` in scripts."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or load_settings().effective_database_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or load_settings().effective_database_url
    engine = create_database_engine(url)
    try:
        with engine.connect() as new_connection:
            _run_with(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
