"""dsp: negotiations, agreements, transfers, their histories, the outbox; offer mode

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "agreement",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("negotiation_id", sa.String(length=255), nullable=True),
        sa.Column("dataset_id", sa.String(length=255), nullable=False),
        sa.Column("assigner", sa.String(length=255), nullable=False),
        sa.Column("assignee", sa.String(length=255), nullable=False),
        sa.Column("odrl", sa.JSON(), nullable=False),
        sa.Column("normalised", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreement_assignee"), ["assignee"], unique=False)
        batch_op.create_index(batch_op.f("ix_agreement_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agreement_negotiation_id"), ["negotiation_id"], unique=False
        )

    op.create_table(
        "negotiation",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("provider_pid", sa.String(length=255), nullable=True),
        sa.Column("consumer_pid", sa.String(length=255), nullable=True),
        sa.Column("counterparty", sa.String(length=255), nullable=False),
        sa.Column("counterparty_address", sa.String(length=2000), nullable=True),
        sa.Column("dataset_id", sa.String(length=255), nullable=False),
        sa.Column("offer_id", sa.String(length=255), nullable=True),
        sa.Column("offer", sa.JSON(), nullable=False),
        sa.Column("agreement_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("auto_verify", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("role", "consumer_pid"),
        sa.UniqueConstraint("role", "provider_pid"),
    )
    with op.batch_alter_table("negotiation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_negotiation_counterparty"), ["counterparty"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_negotiation_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index("ix_negotiation_state_updated", ["state", "updated_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("counterparty", sa.String(length=255), nullable=False),
        sa.Column("process_kind", sa.String(length=20), nullable=False),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("on_failure", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "not_before"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_process_id"), ["process_id"], unique=False)

    op.create_table(
        "transfer",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("provider_pid", sa.String(length=255), nullable=True),
        sa.Column("consumer_pid", sa.String(length=255), nullable=True),
        sa.Column("agreement_id", sa.String(length=255), nullable=False),
        sa.Column("dataset_id", sa.String(length=255), nullable=False),
        sa.Column("counterparty", sa.String(length=255), nullable=False),
        sa.Column("callback_address", sa.String(length=2000), nullable=True),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("data_address", sa.JSON(), nullable=False),
        sa.Column("pulls", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("role", "consumer_pid"),
        sa.UniqueConstraint("role", "provider_pid"),
    )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_counterparty"), ["counterparty"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transfer_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index("ix_transfer_state_updated", ["state", "updated_at"], unique=False)

    op.create_table(
        "negotiation_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("negotiation_id", sa.String(length=255), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["negotiation_id"],
            ["negotiation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("negotiation_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_negotiation_event_negotiation_id"), ["negotiation_id"], unique=False
        )

    op.create_table(
        "transfer_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.String(length=255), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transfer_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_event_transfer_id"), ["transfer_id"], unique=False
        )

    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=10), nullable=False, server_default="auto")
        )


def downgrade() -> None:

    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_column("mode")

    with op.batch_alter_table("transfer_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_event_transfer_id"))

    op.drop_table("transfer_event")
    with op.batch_alter_table("negotiation_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_negotiation_event_negotiation_id"))

    op.drop_table("negotiation_event")
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_state_updated")
        batch_op.drop_index(batch_op.f("ix_transfer_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_counterparty"))
        batch_op.drop_index(batch_op.f("ix_transfer_agreement_id"))

    op.drop_table("transfer")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_process_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("negotiation", schema=None) as batch_op:
        batch_op.drop_index("ix_negotiation_state_updated")
        batch_op.drop_index(batch_op.f("ix_negotiation_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_negotiation_counterparty"))

    op.drop_table("negotiation")
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_negotiation_id"))
        batch_op.drop_index(batch_op.f("ix_agreement_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_agreement_assignee"))

    op.drop_table("agreement")
