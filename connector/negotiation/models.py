"""Contract negotiations (both roles), their history, and the agreements they produce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow

MODES = ("auto", "manual")


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True),
                                                          nullable=False))


class Negotiation(SQLModel, table=True):
    """One negotiation as this connector sees it; ``role`` is *our* role in it.

    ``id`` is our own process id (our ``providerPid`` when we provide, our ``consumerPid``
    when we consume). ``mode`` says who drives the provider's steps: ``auto`` lets the policy
    decide (agree and finalize when allowed), ``manual`` leaves every step to the owner.
    """

    __tablename__ = "negotiation"
    __table_args__ = (UniqueConstraint("role", "provider_pid"),
                      UniqueConstraint("role", "consumer_pid"),
                      Index("ix_negotiation_state_updated", "state", "updated_at"))

    id: str = Field(primary_key=True, max_length=255)
    role: str = Field(max_length=10)
    provider_pid: str | None = Field(default=None, max_length=255)
    consumer_pid: str | None = Field(default=None, max_length=255)
    counterparty: str = Field(max_length=255, index=True)
    counterparty_address: str | None = Field(default=None, max_length=2000)
    dataset_id: str = Field(max_length=255, index=True)
    offer_id: str | None = Field(default=None, max_length=255)
    offer: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    agreement_id: str | None = Field(default=None, max_length=255)
    state: str = Field(max_length=20)
    mode: str = Field(default="auto", max_length=10)
    auto_verify: bool = True
    purpose: str | None = Field(default=None, max_length=100)
    reason: list[dict[str, Any]] = Field(default_factory=list,
                                         sa_column=Column(JSON, nullable=False))
    # The participant whose management call started a consumer-side negotiation (they alone,
    # and admins, may drive it); None for negotiations the other side started.
    requested_by: str | None = Field(default=None, max_length=255, index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class NegotiationEvent(SQLModel, table=True):
    """One state change of a negotiation (the history a reader can follow)."""

    __tablename__ = "negotiation_event"

    id: int | None = Field(default=None, primary_key=True)
    negotiation_id: str = Field(foreign_key="negotiation.id", index=True, max_length=255)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    message: str = Field(max_length=64)
    sender: str = Field(max_length=10)
    at: datetime = _ts()
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Agreement(SQLModel, table=True):
    """A contract agreement (ODRL ``Agreement``), held by both ends; transfers run under it."""

    __tablename__ = "agreement"

    id: str = Field(primary_key=True, max_length=255)
    role: str = Field(max_length=10)
    negotiation_id: str | None = Field(default=None, max_length=255, index=True)
    dataset_id: str = Field(max_length=255, index=True)
    assigner: str = Field(max_length=255)
    assignee: str = Field(max_length=255, index=True)
    odrl: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    normalised: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    mode: str = Field(default="auto", max_length=10)
    purpose: str | None = Field(default=None, max_length=100)
    status: str = Field(default="active", max_length=20)
    # Set when the ODRL uses terms connector.policy.odrl cannot enforce (normalised is then {}):
    # the unsupported term and why. Only a counterparty's agreement can end up like this.
    unsupported: str | None = Field(default=None, max_length=500)
    # Set when a consent the agreement relied on ends (consent.enforce): ``reduced`` (fewer
    # subjects' rows are served now) or ``lapsed`` (nothing may be served; its transfers were
    # terminated). The agreement stays usable: a later transfer is decided afresh.
    consent_state: str | None = Field(default=None, max_length=20)
    consent_changed_at: datetime | None = Field(default=None,
                                                sa_column=Column(DateTime(timezone=True)))
    signed_at: datetime = _ts()
