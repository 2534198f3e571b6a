"""Management API of transfers, for both roles.

A consumer (scope ``transfer``) asks for a transfer, drives it, and fetches its data through
``GET /{id}/data``. A provider (scope ``offers``, owner of the dataset) drives transfers of its
datasets: ``start`` in ``manual`` mode, ``suspend``, ``resume``, ``complete``, ``terminate``.
List and read show only the caller's own transfers (the list and action routes need a token;
which scope depends on the transfer's role, checked by ``transfer.actions``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.routes.data import StreamedData
from connector.api.security import Authenticated, requires
from connector.auth.principal import Principal
from connector.transfer import actions, consumer, pull
from connector.transfer.service import view

router = APIRouter(prefix="/api/v1/transfers", tags=["transfers"])
Consumer = Annotated[Principal, requires("transfer")]
Action = Literal["start", "resume", "suspend", "complete", "terminate"]


class TransferIn(BaseModel):
    """A transfer to ask a provider for, under an agreement we hold as consumer."""

    counterparty_address: str = Field(min_length=1, max_length=2000, description="The "
                                      "provider's DSP base URL, e.g. "
                                      "`https://provider.example/dsp/2025-1`.")
    provider_id: str = Field(min_length=1, max_length=255, description="The provider's "
                             "participant id (the agreement's assigner).")
    agreement_id: str = Field(min_length=1, max_length=255)
    format: Literal["HttpData-PULL", "HttpData-PUSH"]
    push_endpoint: str | None = Field(None, max_length=2000, description="PUSH only: the "
                                      "HTTP receiver the provider POSTs the data to.")
    push_authorization: str | None = Field(None, max_length=4000, description="PUSH only: "
                                           "the Authorization value that receiver expects.")


class ActionIn(BaseModel):
    """Optional detail of an action (a suspension's or termination's code and reason)."""

    code: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=1000)


@router.post("", status_code=201, summary="Ask a provider for a transfer (as consumer)")
def create_transfer(body: TransferIn, session: SessionDep, runtime: RuntimeDep,
                    principal: Consumer) -> dict[str, Any]:
    transfer = consumer.request(runtime, session, participant=principal.participant,
                                counterparty_address=body.counterparty_address,
                                provider_id=body.provider_id, agreement_id=body.agreement_id,
                                format=body.format, push_endpoint=body.push_endpoint,
                                push_authorization=body.push_authorization)
    return view(transfer)


@router.get("", summary="The caller's transfers, newest first")
def list_transfers(session: SessionDep, principal: Authenticated,
                   role: Literal["provider", "consumer"] | None = None,
                   state: str | None = None, agreement_id: str | None = None,
                   dataset_id: str | None = None, cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=actions.MAX_PAGE)] = 50,
                   ) -> dict[str, Any]:
    rows, next_cursor = actions.page(session, principal, cursor=cursor, limit=limit, role=role,
                                     state=state, agreement_id=agreement_id,
                                     dataset_id=dataset_id)
    return {"items": [view(t) for t in rows], "next_cursor": next_cursor}


@router.get("/{transfer_id}", summary="One transfer")
def get_transfer(transfer_id: str, session: SessionDep,
                 principal: Authenticated) -> dict[str, Any]:
    return view(actions.visible(session, principal, transfer_id))


@router.post("/{transfer_id}/{action}", summary="start, resume, suspend, complete, terminate")
def act(transfer_id: str, action: Action, session: SessionDep, runtime: RuntimeDep,
        principal: Authenticated, body: ActionIn | None = None) -> dict[str, Any]:
    detail = body or ActionIn()
    transfer = actions.act(runtime, session, principal=principal, transfer_id=transfer_id,
                           action=action, code=detail.code, reason=detail.reason)
    return view(transfer)


@router.get("/{transfer_id}/data", response_class=StreamingResponse,
            summary="Fetch a pull transfer's data from the provider (as consumer)")
async def fetch_data(transfer_id: str, request: Request, runtime: RuntimeDep,
                     principal: Consumer) -> Response:
    outgoing = await pull.open_fetch(runtime, principal=principal, transfer_id=transfer_id,
                                     range_header=request.headers.get("range"))
    return StreamedData(outgoing)
