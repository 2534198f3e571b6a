"""Tables of the authorization server: registered clients, used jtis, revoked tokens.

Expiry times are integer Unix seconds: compared in SQL on both SQLite and PostgreSQL without
time-zone conversions, and indexed so that expired rows are cheap to sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime
from sqlmodel import Field, SQLModel

from connector.timeutil import utcnow


class OAuthClient(SQLModel, table=True):
    """A registered OAuth client: whose it is, what it may do, how it authenticates."""

    __tablename__ = "oauth_client"

    client_id: str = Field(primary_key=True, max_length=64)
    participant: str = Field(max_length=255, index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Public keys for ``private_key_jwt`` (a JWKS document); None for a secret-only client.
    jwks: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    dpop_bound: bool = False
    #: ``sha256:<hex>`` of a generated secret, only for ``client_secret_basic`` in dev mode.
    secret_hash: str | None = Field(default=None, max_length=80)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
    disabled_at: datetime | None = Field(default=None,
                                         sa_column=Column(DateTime(timezone=True)))


class SeenJti(SQLModel, table=True):
    """A ``jti`` already used, kept until the JWT carrying it could no longer be accepted.

    ``kind`` is ``assertion`` (client assertions; ``owner`` is the client id) or ``dpop``
    (DPoP proofs; ``owner`` is empty). The primary key makes a replay fail on insert, across
    every replica that shares the database.
    """

    __tablename__ = "oauth_seen_jti"

    kind: str = Field(primary_key=True, max_length=16)
    owner: str = Field(primary_key=True, max_length=255)
    jti: str = Field(primary_key=True, max_length=256)
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class RevokedToken(SQLModel, table=True):
    """An access token revoked before its expiry (RFC 7009), kept until it expires."""

    __tablename__ = "oauth_revoked_token"

    jti: str = Field(primary_key=True, max_length=255)
    client_id: str = Field(max_length=64, index=True)
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    revoked_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))
