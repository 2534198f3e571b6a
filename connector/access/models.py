"""Access requests waiting for (or decided by) a dataset's owner, and owners' webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow

STATES = ("pending", "approved", "rejected")


class AccessRequest(SQLModel, table=True):
    """A partner's request for an offer that requires the owner's approval.

    The DSP negotiation behind it stays REQUESTED until the owner decides. An approval may
    narrow the terms (purpose, usage window, number of transfers); a rejection carries a reason
    that the requester receives in the DSP termination message.
    """

    __tablename__ = "access_request"

    id: str = Field(primary_key=True, max_length=255)
    negotiation_id: str = Field(max_length=255, index=True)
    dataset_id: str = Field(max_length=255, index=True)
    owner: str = Field(max_length=255, index=True)
    requester: str = Field(max_length=255, index=True)
    purpose: str | None = Field(default=None, max_length=100)
    state: str = Field(default="pending", max_length=10, index=True)
    narrowed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, max_length=1000)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


class Webhook(SQLModel, table=True):
    """An owner's endpoint that is told about each new access request (signed, retried)."""

    __tablename__ = "webhook"

    id: str = Field(primary_key=True, max_length=255)
    owner: str = Field(max_length=255, index=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=lambda: ["access_request.created"],
                              sa_column=Column(JSON, nullable=False))
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
