"""Cross-border login: logins in progress with a peer provider, the accounts of citizens of
other countries, and the federated marker of a browser session.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crossborder_login",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("browser_session_id", sa.Integer(), nullable=False),
        sa.Column("authorization_request_id", sa.String(length=64), nullable=False),
        sa.Column("peer_issuer", sa.String(length=500), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("requested_level", sa.Integer(), nullable=False),
        sa.Column("acr_values", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('sent', 'answered')", name=op.f("ck_crossborder_login_status")
        ),
        sa.ForeignKeyConstraint(
            ["browser_session_id"],
            ["browser_session.id"],
            name=op.f("fk_crossborder_login_browser_session_id_browser_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossborder_login")),
    )
    op.create_index(
        op.f("ix_crossborder_login_browser_session_id"),
        "crossborder_login",
        ["browser_session_id"],
    )
    op.create_index(op.f("ix_crossborder_login_expires_at"), "crossborder_login", ["expires_at"])
    op.create_table(
        "federated_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("person_identifier", sa.String(length=64), nullable=False),
        sa.Column("peer_issuer", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_federated_identity_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_identity")),
        sa.UniqueConstraint("citizen_id", name=op.f("uq_federated_identity_citizen_id")),
        sa.UniqueConstraint(
            "person_identifier", name=op.f("uq_federated_identity_person_identifier")
        ),
    )
    with op.batch_alter_table("browser_session") as batch:
        batch.add_column(sa.Column("federation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("browser_session") as batch:
        batch.drop_column("federation")
    op.drop_table("federated_identity")
    op.drop_index(op.f("ix_crossborder_login_expires_at"), table_name="crossborder_login")
    op.drop_index(op.f("ix_crossborder_login_browser_session_id"), table_name="crossborder_login")
    op.drop_table("crossborder_login")
