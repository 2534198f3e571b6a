"""Audit log tables: entries exactly as hashed, stored tree hashes, checkpoints, the head counter.

All four refuse UPDATE and DELETE through database triggers (migration 0003), except the single
``audit_head`` row whose counter the sequencer advances.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, String, Text
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    """One entry: ``body`` is the canonical bytes the leaf hash covers; the rest serves search."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_participant_time", "participant", "time"),
                      Index("ix_audit_entry_dataset_time", "dataset", "time"),
                      Index("ix_audit_entry_type_time", "type", "time"))

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    participant: str | None = Field(default=None, sa_column=Column(String(255)))
    dataset: str | None = Field(default=None, sa_column=Column(String(255)))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditHash(SQLModel, table=True):
    """A stored tree hash (leaf or complete subtree) at its sumdb-style stored index."""

    __tablename__ = "audit_hash"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint (C2SP signed note) of the tree at ``size``; every one is kept."""

    __tablename__ = "audit_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditHead(SQLModel, table=True):
    """The sequencer's counter: one row, ``size`` = number of entries appended and committed."""

    __tablename__ = "audit_head"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
