"""Transfer processes (both roles) and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True),
                                                          nullable=False))


class Transfer(SQLModel, table=True):
    """One transfer process as this connector sees it; ``role`` is *our* role.

    ``data_address`` is what the provider's start message carries: for ``HttpData-PULL`` the
    endpoint and a short-lived token bound to this transfer and its agreement; for
    ``HttpData-PUSH`` the consumer's endpoint that the provider sends the data to. A provider
    keeps only the endpoint of a pull address (the token is re-verifiable, never stored).

    ``callback_address`` is where the other side's DSP endpoints are: the consumer's
    ``callbackAddress`` when we provide, the provider's DSP base when we consume. ``owner`` is
    the participant who manages the transfer through the management API: the dataset's owner
    when we provide, the caller who asked for it when we consume. ``pulls``/``bytes_sent``/
    ``sha256`` count completed pulls or pushes (a running pull holds one reservation in
    ``pulls``), all bytes streamed, and the digest of the last complete stream; on a consumer
    row they describe what we fetched. ``push_status`` (``due``, ``running``, ``done``,
    ``failed``) and ``lease_until`` drive the provider's push worker.
    """

    __tablename__ = "transfer"
    __table_args__ = (UniqueConstraint("role", "provider_pid"),
                      UniqueConstraint("role", "consumer_pid"),
                      Index("ix_transfer_state_updated", "state", "updated_at"))

    id: str = Field(primary_key=True, max_length=255)
    role: str = Field(max_length=10)
    provider_pid: str | None = Field(default=None, max_length=255)
    consumer_pid: str | None = Field(default=None, max_length=255)
    agreement_id: str = Field(max_length=255, index=True)
    dataset_id: str = Field(max_length=255, index=True)
    counterparty: str = Field(max_length=255, index=True)
    callback_address: str | None = Field(default=None, max_length=2000)
    format: str = Field(max_length=64)
    state: str = Field(max_length=20)
    mode: str = Field(default="auto", max_length=10)
    data_address: dict[str, Any] = Field(default_factory=dict,
                                         sa_column=Column(JSON, nullable=False))
    pulls: int = 0
    bytes_sent: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sha256: str | None = Field(default=None, max_length=64)
    reason: list[dict[str, Any]] = Field(default_factory=list,
                                         sa_column=Column(JSON, nullable=False))
    owner: str | None = Field(default=None, max_length=255, index=True)
    push_status: str | None = Field(default=None, max_length=10)
    lease_until: datetime | None = Field(default=None,
                                         sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class TransferEvent(SQLModel, table=True):
    """One state change of a transfer."""

    __tablename__ = "transfer_event"

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: str = Field(foreign_key="transfer.id", index=True, max_length=255)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    message: str = Field(max_length=64)
    sender: str = Field(max_length=10)
    at: datetime = _ts()
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
