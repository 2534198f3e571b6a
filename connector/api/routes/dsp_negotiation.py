"""DSP 2025-1 contract negotiation endpoints: provider paths and consumer callbacks.

Both roles share the path shapes; ``negotiation.service`` finds the id among our negotiations
of either role. Bodies are read as JSON whatever the ``Content-Type`` (compacted or expanded
JSON-LD); anything else is a 400 ``ContractNegotiationError``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.dsp import CounterpartyDep
from connector.dsp.base import DspModel
from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import (
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiation,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    dump_message,
    parse_message,
)
from connector.negotiation import service

router = APIRouter(prefix="/dsp/2025-1/negotiations", tags=["dsp: contract negotiation"])
_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "a DSP 2025-1 message "
                                    "(JSON-LD, compacted or expanded)"}}}}}


async def dsp_body(request: Request) -> Any:
    """The request body as JSON (400 ``invalid-message`` when it is not)."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidMessage("the body is not a JSON document") from None


Body = Annotated[Any, Depends(dsp_body)]


def _answer(ack: ContractNegotiation, status: int = 200) -> JSONResponse:
    return JSONResponse(dump_message(ack), status_code=status)


@router.post("/request", status_code=201, openapi_extra=_BODY, response_class=JSONResponse,
             summary="Consumer → provider: the first ContractRequestMessage")
def request(counterparty: CounterpartyDep, body: Body, session: SessionDep,
            runtime: RuntimeDep) -> JSONResponse:
    message = parse_message(body, ContractRequestMessage)
    return _answer(service.open_request(session=session, runtime=runtime,
                                        counterparty=counterparty.participant,
                                        message=message), 201)


@router.post("/offers", status_code=201, openapi_extra=_BODY, response_class=JSONResponse,
             summary="Provider → consumer: the first ContractOfferMessage")
def initial_offer(counterparty: CounterpartyDep, body: Body, session: SessionDep,
                  runtime: RuntimeDep) -> JSONResponse:
    message = parse_message(body, ContractOfferMessage)
    return _answer(service.open_offer(session=session, runtime=runtime,
                                      counterparty=counterparty.participant,
                                      message=message), 201)


@router.get("/{pid}", response_class=JSONResponse, summary="The state of a negotiation")
def state(pid: str, counterparty: CounterpartyDep, session: SessionDep) -> JSONResponse:
    return _answer(service.state_of(session=session, counterparty=counterparty.participant,
                                    pid=pid))


def _receive(pid: str, body: Any, expected: type[DspModel], counterparty: CounterpartyDep,
             session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    message = parse_message(body, expected)
    return _answer(service.receive(session=session, runtime=runtime,
                                   counterparty=counterparty.participant, pid=pid,
                                   message=message))


@router.post("/{pid}/request", openapi_extra=_BODY, response_class=JSONResponse,
             summary="Consumer → provider: a ContractRequestMessage (counter-offer)")
def counter_request(pid: str, counterparty: CounterpartyDep, body: Body, session: SessionDep,
                    runtime: RuntimeDep) -> JSONResponse:
    return _receive(pid, body, ContractRequestMessage, counterparty, session, runtime)


@router.post("/{pid}/events", openapi_extra=_BODY, response_class=JSONResponse,
             summary="Either way: ContractNegotiationEventMessage (ACCEPTED or FINALIZED)")
def events(pid: str, counterparty: CounterpartyDep, body: Body, session: SessionDep,
           runtime: RuntimeDep) -> JSONResponse:
    return _receive(pid, body, ContractNegotiationEventMessage, counterparty, session, runtime)


@router.post("/{pid}/agreement/verification", openapi_extra=_BODY,
             response_class=JSONResponse,
             summary="Consumer → provider: ContractAgreementVerificationMessage")
def verification(pid: str, counterparty: CounterpartyDep, body: Body, session: SessionDep,
                 runtime: RuntimeDep) -> JSONResponse:
    return _receive(pid, body, ContractAgreementVerificationMessage, counterparty, session,
                    runtime)


@router.post("/{pid}/termination", openapi_extra=_BODY, response_class=JSONResponse,
             summary="Either way: ContractNegotiationTerminationMessage")
def termination(pid: str, counterparty: CounterpartyDep, body: Body, session: SessionDep,
                runtime: RuntimeDep) -> JSONResponse:
    return _receive(pid, body, ContractNegotiationTerminationMessage, counterparty, session,
                    runtime)


@router.post("/{pid}/offers", openapi_extra=_BODY, response_class=JSONResponse,
             summary="Provider → consumer: a ContractOfferMessage in a running negotiation")
def offer(pid: str, counterparty: CounterpartyDep, body: Body, session: SessionDep,
          runtime: RuntimeDep) -> JSONResponse:
    return _receive(pid, body, ContractOfferMessage, counterparty, session, runtime)


@router.post("/{pid}/agreement", openapi_extra=_BODY, response_class=JSONResponse,
             summary="Provider → consumer: ContractAgreementMessage")
def agreement(pid: str, counterparty: CounterpartyDep, body: Body, session: SessionDep,
              runtime: RuntimeDep) -> JSONResponse:
    return _receive(pid, body, ContractAgreementMessage, counterparty, session, runtime)
