"""catalog: SQL-backed datasets, a keyword index, offers grouped by policy (offer.policy_hash)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _policy_key(normalised: dict[str, Any]) -> str:
    # A frozen copy of connector.catalog.models.policy_key as of this revision.
    body = {k: v for k, v in normalised.items() if k not in ("id", "target")}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN (no batch copy): on SQLite, copying ``dataset`` would
    # drop a table that offers reference, which foreign keys refuse once rows exist.
    op.add_column("dataset", sa.Column("query", sa.Text(), nullable=True))
    op.add_column("dataset", sa.Column("keyword_index", sa.JSON(), nullable=False,
                                       server_default=sa.text("'[]'")))
    op.add_column("offer", sa.Column("policy_hash", sa.String(length=64), nullable=False,
                                     server_default=""))
    op.create_index("ix_offer_policy_hash", "offer", ["policy_hash", "dataset_id"],
                    unique=False)
    conn = op.get_bind()
    dataset = sa.table("dataset", sa.column("id", sa.String()),
                       sa.column("keywords", sa.JSON()), sa.column("keyword_index", sa.JSON()))
    for row in conn.execute(sa.select(dataset.c.id, dataset.c.keywords)).all():
        keywords = row.keywords if isinstance(row.keywords, list) else json.loads(
            row.keywords or "[]")
        folded = sorted({k.casefold() for k in keywords if isinstance(k, str)})
        conn.execute(dataset.update().where(dataset.c.id == row.id)
                     .values(keyword_index=folded))
    offer = sa.table("offer", sa.column("id", sa.String()), sa.column("normalised", sa.JSON()),
                     sa.column("policy_hash", sa.String()))
    for row in conn.execute(sa.select(offer.c.id, offer.c.normalised)).all():
        normalised = row.normalised if isinstance(row.normalised, dict) else json.loads(
            row.normalised or "{}")
        if normalised:  # an empty one stays unhashed: the catalog never shows it
            conn.execute(offer.update().where(offer.c.id == row.id)
                         .values(policy_hash=_policy_key(normalised)))


def downgrade() -> None:
    # Native ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), for the reason given above.
    op.drop_index("ix_offer_policy_hash", table_name="offer")
    op.drop_column("offer", "policy_hash")
    op.drop_column("dataset", "keyword_index")
    op.drop_column("dataset", "query")
