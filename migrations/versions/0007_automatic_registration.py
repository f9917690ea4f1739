"""OpenID Federation automatic registration (section 12.1): relying parties registered from
their resolved Trust Chain, marked as such, with the time the registration must be resolved
again, the Trust Anchor it was resolved through, and the client's request object algorithm.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "registration_type",
                sa.String(length=16),
                nullable=False,
                server_default="static",
            )
        )
        batch_op.add_column(
            sa.Column("registration_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("federation_trust_anchor", sa.String(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("request_object_signing_alg", sa.String(length=16), nullable=True)
        )
        batch_op.create_check_constraint(
            op.f("ck_oauth_client_registration_type"),
            "registration_type IN ('static', 'automatic')",
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_oauth_client_registration_type"), type_="check")
        batch_op.drop_column("request_object_signing_alg")
        batch_op.drop_column("federation_trust_anchor")
        batch_op.drop_column("registration_expires_at")
        batch_op.drop_column("registration_type")
