"""Admin API of the client registry (the same operations as ``connector clients``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from connector.api.deps import SessionDep, SettingsDep
from connector.api.security import AdminPrincipal
from connector.auth import clients
from connector.auth.scopes import ROLES
from connector.errors import NotFound

router = APIRouter(prefix="/api/v1/admin/clients", tags=["admin"])


class ClientIn(BaseModel):
    """A client to register."""

    participant: str = Field(min_length=1, max_length=255)
    roles: list[str] = Field(min_length=1, description=f"Any of {', '.join(ROLES)}.")
    jwks: dict[str, Any] | None = Field(None, description="Public keys for private_key_jwt.")
    dpop_bound: bool = Field(False, description="Only DPoP-bound tokens for this client.")
    client_secret: bool = Field(False, description="Generate a secret (not in production).")
    client_id: str | None = Field(None, description="Chosen id; generated when unset.")


class ClientOut(BaseModel):
    """A registered client (never its secret hash)."""

    client_id: str
    participant: str
    roles: list[str]
    dpop_bound: bool
    auth_methods: list[str]
    jwks: dict[str, Any] | None
    disabled: bool
    created_at: datetime
    disabled_at: datetime | None
    client_secret: str | None = Field(None, description="Only in the creation response.")


def _out(record: clients.ClientRecord, secret: str | None = None) -> ClientOut:
    return ClientOut(**record.public_view(), client_secret=secret)


@router.post("", status_code=201, summary="Register a client")
def create_client(body: ClientIn, session: SessionDep, settings: SettingsDep,
                  _admin: AdminPrincipal) -> ClientOut:
    record, secret = clients.create_client(
        session=session, participant=body.participant, roles=body.roles, jwks=body.jwks,
        dpop_bound=body.dpop_bound, with_secret=body.client_secret, client_id=body.client_id,
        secrets_allowed=settings.client_secrets_allowed)
    return _out(record, secret)


@router.get("", summary="List clients")
def list_clients(session: SessionDep, _admin: AdminPrincipal) -> list[ClientOut]:
    return [_out(record) for record in clients.list_clients(session=session)]


@router.get("/{client_id}", summary="Read one client")
def get_client(client_id: str, session: SessionDep, _admin: AdminPrincipal) -> ClientOut:
    record = clients.get_client(session=session, client_id=client_id)
    if record is None:
        raise NotFound(f"no client {client_id}")
    return _out(record)


@router.post("/{client_id}/disable", summary="Disable a client (its tokens stop working)")
def disable_client(client_id: str, session: SessionDep, _admin: AdminPrincipal) -> ClientOut:
    return _out(clients.disable_client(session=session, client_id=client_id))
