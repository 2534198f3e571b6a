"""Datasets and the ODRL offers attached to them.

An offer's ``policy_hash`` names its normalised policy without the offer's own identifiers
(:func:`policy_key`): offers with the same hash are visible to the same requesters, so the
catalog asks the policy engine once per hash, not once per dataset. It is computed on every
insert and update through the ORM, whoever writes the row; so is a dataset's ``keyword_index``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import JSON, Column, DateTime, Index, Text, event
from sqlmodel import Field, SQLModel

from connector.policy.odrl import normalise_policy
from connector.timeutil import utcnow

SOURCE_KINDS = ("file", "http", "sql")
# Per-offer identifiers: they never change who may see or use the offer.
_NOT_POLICY = ("id", "target")


class Dataset(SQLModel, table=True):
    """A dataset in the catalog with its DCAT metadata and where its bytes come from."""

    __tablename__ = "dataset"

    id: str = Field(primary_key=True, max_length=255)
    title: str = Field(max_length=500)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=255, index=True)
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The keywords case-folded (Python's Unicode folding, which SQLite's lower() lacks), for
    # the catalog's keyword filter; kept in step by the ORM on every insert and update.
    keyword_index: list[str] = Field(default_factory=list,
                                     sa_column=Column(JSON, nullable=False))
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    personal_data: bool = False
    subject_column: str | None = Field(default=None, max_length=100)
    media_type: str = Field(default="text/csv", max_length=100)
    source_kind: str = Field(default="file", max_length=10)
    # file: a path relative to the data dir; http: the URL; sql: the name of a configured source.
    source: str = Field(default="", max_length=2000)
    # sql only: the SELECT that produces the rows (served as CSV).
    query: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
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
    __table_args__ = (Index("ix_offer_policy_hash", "policy_hash", "dataset_id"),)

    id: str = Field(primary_key=True, max_length=255)
    dataset_id: str = Field(foreign_key="dataset.id", index=True, max_length=255)
    odrl: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    normalised: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    policy_hash: str = Field(default="", max_length=64)
    # Who drives the provider's negotiation steps: the policy (auto) or the owner (manual).
    mode: str = Field(default="auto", max_length=10)
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


def policy_key(normalised: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the RFC 8785 form of a normalised policy without its identifiers."""
    body = {k: v for k, v in normalised.items() if k not in _NOT_POLICY}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


@event.listens_for(Offer, "before_insert")
@event.listens_for(Offer, "before_update")
def _hash_policy(_mapper: Any, _conn: Any, offer: Offer) -> None:
    if not offer.normalised:
        # An empty normalised policy would read as "no restriction": derive it instead.
        offer.normalised = normalise_policy(offer.odrl)
    offer.policy_hash = policy_key(offer.normalised)


def fold_keywords(keywords: list[str]) -> list[str]:
    """The keyword index of ``keywords``: case-folded, de-duplicated, sorted."""
    return sorted({k.casefold() for k in keywords if isinstance(k, str)})


@event.listens_for(Dataset, "before_insert")
@event.listens_for(Dataset, "before_update")
def _index_keywords(_mapper: Any, _conn: Any, dataset: Dataset) -> None:
    dataset.keyword_index = fold_keywords(dataset.keywords)
