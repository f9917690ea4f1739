"""Migrations build the schema on an empty database and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from idp.storage.base import Base
from idp.storage.database import create_database_engine
from idp.storage.migrate import current_revision, head_revision, upgrade_to_head

EXPECTED_TABLES = {
    "alembic_version",
    "signature_authorisation",
    "signature_credential",
    "signature_request",
    "browser_session",
    "citizen",
    "identity_verification",
    "login_failure_counter",
    "oauth_client",
    "oauth_grant",
    "authorization_request",
    "authorization_code",
    "refresh_token",
    "revoked_access_token",
    "consent",
    "client_assertion_jti",
    "backchannel_logout_delivery",
    "signing_key",
    "totp_credential",
    "recovery_code",
    "card_challenge",
    "email_verification_code",
    "outbox_message",
    "civil_registry_record",
    "audit_head",
    "audit_record",
    "federation_subordinate",
    "crossborder_login",
    "federated_identity",
}


def test_upgrade_builds_every_table_on_an_empty_database(empty_database_url: str) -> None:
    engine = create_database_engine(empty_database_url)
    try:
        assert current_revision(engine) is None
        upgrade_to_head(engine)
        assert set(inspect(engine).get_table_names()) == EXPECTED_TABLES
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_database_url: str) -> None:
    engine = create_database_engine(empty_database_url)
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """No pending autogenerate diff: every model change has its migration."""
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()
