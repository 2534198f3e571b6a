"""The outbox: messages to other connectors, committed with the state change that causes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow

STATUSES = ("pending", "sent", "failed")


class OutboxMessage(SQLModel, table=True):
    """One message to POST to another connector.

    A worker claims due rows with a lease (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL),
    so two replicas never deliver the same row at once; a crashed worker's lease expires and
    another takes over.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    counterparty: str = Field(max_length=255)
    process_kind: str = Field(max_length=20)  # negotiation | transfer
    process_id: str = Field(max_length=255, index=True)
    on_failure: str = Field(default="log", max_length=20)  # log | terminate
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    not_before: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
    deadline: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    leased_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=1000)
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
