"""OpenID Federation trust-anchor role: the Immediate Subordinates a Trust Anchor issues
Subordinate Statements about (Federation Entity Keys, metadata policy, constraints), listed by
its list endpoint and served by its fetch endpoint.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 05:40:50.412436
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_subordinate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=500), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("metadata_policy", sa.JSON(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("metadata_override", sa.JSON(), nullable=True),
        sa.Column("entity_types", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'removed')", name=op.f("ck_federation_subordinate_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_subordinate")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_federation_subordinate_entity_id")),
    )


def downgrade() -> None:
    op.drop_table("federation_subordinate")
