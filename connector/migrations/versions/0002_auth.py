"""auth: OAuth clients, used jtis, revoked tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_client",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("dpop_bound", sa.Boolean(), nullable=False),
        sa.Column("secret_hash", sa.String(length=80), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_client_participant"), ["participant"],
                              unique=False)

    op.create_table(
        "oauth_seen_jti",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("jti", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "owner", "jti"),
    )
    with op.batch_alter_table("oauth_seen_jti", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_seen_jti_expires_at"), ["expires_at"],
                              unique=False)

    op.create_table(
        "oauth_revoked_token",
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("oauth_revoked_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_revoked_token_client_id"), ["client_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_revoked_token_expires_at"), ["expires_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_revoked_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_revoked_token_expires_at"))
        batch_op.drop_index(batch_op.f("ix_oauth_revoked_token_client_id"))
    op.drop_table("oauth_revoked_token")

    with op.batch_alter_table("oauth_seen_jti", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_seen_jti_expires_at"))
    op.drop_table("oauth_seen_jti")

    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_client_participant"))
    op.drop_table("oauth_client")
