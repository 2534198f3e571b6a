"""negotiation: who started a consumer negotiation; agreements with unsupported terms

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("negotiation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_by", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_negotiation_requested_by"), ["requested_by"],
                              unique=False)
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsupported", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_column("unsupported")
    with op.batch_alter_table("negotiation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_negotiation_requested_by"))
        batch_op.drop_column("requested_by")
