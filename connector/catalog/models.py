"""Datasets and the ODRL offers attached to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow

SOURCE_KINDS = ("file", "http", "sql")


class Dataset(SQLModel, table=True):
    """A dataset in the catalog with its DCAT metadata and where its bytes come from."""

    __tablename__ = "dataset"

    id: str = Field(primary_key=True, max_length=255)
    title: str = Field(max_length=500)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=255, index=True)
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    personal_data: bool = False
    subject_column: str | None = Field(default=None, max_length=100)
    media_type: str = Field(default="text/csv", max_length=100)
    source_kind: str = Field(default="file", max_length=10)
    source: str = Field(default="", max_length=2000)
    byte_size: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    spatial: str | None = Field(default=None, max_length=255)
    temporal_start: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    temporal_end: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    accrual_periodicity: str | None = Field(default=None, max_length=100)
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


class Offer(SQLModel, table=True):
    """An ODRL offer on a dataset, kept as received (JSON-LD) and in normalised form."""

    __tablename__ = "offer"

    id: str = Field(primary_key=True, max_length=255)
    dataset_id: str = Field(foreign_key="dataset.id", index=True, max_length=255)
    odrl: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    normalised: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Who drives the provider's negotiation steps: the policy (auto) or the owner (manual).
    mode: str = Field(default="auto", max_length=10)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
