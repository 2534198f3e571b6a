"""DSP 2025-1 transfer process endpoints (provider paths and consumer callbacks are the same).

``POST /transfers/request`` creates a provider-side transfer (201 + ``TransferProcess``). The
``{pid}`` paths look the id up among our transfers of either role; a process of another
counterparty answers 404 like a missing one. Errors are ``TransferError`` messages (an illegal
move: 400, the state unchanged).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body
from starlette.responses import JSONResponse

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.dsp import CounterpartyDep
from connector.dsp import InvalidMessage, parse_message
from connector.dsp.base import DspModel
from connector.dsp.messages import (
    TransferCompletionMessage,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
)
from connector.dsp.messages.transfer import TransferState
from connector.transfer import incoming, provider
from connector.transfer.service import DSP_PATH, of_counterparty, wire_state

router = APIRouter(prefix=f"{DSP_PATH}/transfers", tags=["dsp"])
JsonBody = Annotated[dict[str, Any], Body()]
REQUESTED: TransferState = "REQUESTED"
M = TypeVar("M", bound=DspModel)


def _parse(body: dict[str, Any], expected: type[M]) -> M:
    try:
        return parse_message(body, expected)
    except ValueError as exc:
        # pyld raises a bare ValueError for a relative context IRI ("@context": "x"), which
        # dsp.jsonld does not translate yet: still the sender's mistake, not ours.
        raise InvalidMessage(f"not JSON-LD this connector reads: {str(exc)[:200]}") from None


@router.post("/request", status_code=201, summary="TransferRequestMessage: ask for a transfer")
def request_transfer(body: JsonBody, session: SessionDep, runtime: RuntimeDep,
                     counterparty: CounterpartyDep) -> JSONResponse:
    message = _parse(body, TransferRequestMessage)
    transfer, created = provider.receive_request(runtime, session,
                                                 counterparty=counterparty.participant,
                                                 message=message)
    # A new request is acknowledged as REQUESTED; what follows (start, termination) is sent.
    return JSONResponse(wire_state(transfer, REQUESTED if created else None), status_code=201)


def _receive(pid: str, body: dict[str, Any], expected: type[incoming.ProcessMessage],
             session: SessionDep, counterparty: CounterpartyDep) -> JSONResponse:
    message = _parse(body, expected)
    transfer = incoming.receive(session, pid=pid, participant=counterparty.participant,
                                message=message)
    return JSONResponse(wire_state(transfer))


@router.post("/{pid}/start", summary="TransferStartMessage: start or resume")
def start(pid: str, body: JsonBody, session: SessionDep,
          counterparty: CounterpartyDep) -> JSONResponse:
    return _receive(pid, body, TransferStartMessage, session, counterparty)


@router.post("/{pid}/completion", summary="TransferCompletionMessage")
def completion(pid: str, body: JsonBody, session: SessionDep,
               counterparty: CounterpartyDep) -> JSONResponse:
    return _receive(pid, body, TransferCompletionMessage, session, counterparty)


@router.post("/{pid}/suspension", summary="TransferSuspensionMessage")
def suspension(pid: str, body: JsonBody, session: SessionDep,
               counterparty: CounterpartyDep) -> JSONResponse:
    return _receive(pid, body, TransferSuspensionMessage, session, counterparty)


@router.post("/{pid}/termination", summary="TransferTerminationMessage")
def termination(pid: str, body: JsonBody, session: SessionDep,
                counterparty: CounterpartyDep) -> JSONResponse:
    return _receive(pid, body, TransferTerminationMessage, session, counterparty)


@router.get("/{pid}", summary="The transfer process's state")
def state(pid: str, session: SessionDep, counterparty: CounterpartyDep) -> JSONResponse:
    return JSONResponse(wire_state(of_counterparty(session, pid, counterparty.participant,
                                                    lock=False)))
