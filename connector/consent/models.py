"""Consent records (ISO/IEC TS 27560) and their immutable events.

A record states who (data subject) lets whom (recipients) use what (datasets, subject keys, data
categories) for which purposes, from when until when, collected how, under which jurisdiction.
Its status is never stored: it is derived from its events (given, renewed, withdrawn, expired)
and its validity at the moment asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow

SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
EVENT_TYPES = ("given", "renewed", "withdrawn", "expired")


class ConsentRecord(SQLModel, table=True):
    """What was consented to. Rows are written once; changes are events."""

    __tablename__ = "consent_record"

    id: str = Field(primary_key=True, max_length=255)
    schema_version: str = Field(default=SCHEMA_VERSION, max_length=64)
    data_subject: str = Field(max_length=255, index=True)
    controller: str = Field(max_length=255)
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    data_categories: list[str] = Field(default_factory=list, sa_column=Column(JSON,
                                                                              nullable=False))
    datasets: list[str] = Field(sa_column=Column(JSON, nullable=False))
    subject_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_until: datetime | None = Field(default=None,
                                         sa_column=Column(DateTime(timezone=True)))
    collection_method: str = Field(max_length=255)
    jurisdiction: str = Field(default="EU", max_length=64)
    withdrawal_method: str = Field(max_length=500)
    source: str = Field(default="given", max_length=20)  # given (here) | imported
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


class ConsentEvent(SQLModel, table=True):
    """One event of a record: given, renewed, withdrawn or expired, with time and actor."""

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(foreign_key="consent_record.id", index=True, max_length=255)
    type: str = Field(max_length=20)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor: str = Field(max_length=255)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
