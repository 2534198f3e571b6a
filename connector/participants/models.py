"""The participant registry table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow


class Participant(SQLModel, table=True):
    """A party of the data space; ``org_type`` and ``region`` feed policy decisions."""

    __tablename__ = "participant"

    id: str = Field(primary_key=True, max_length=255)
    name: str = Field(max_length=255)
    role: str = Field(max_length=32, index=True)
    org_type: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
