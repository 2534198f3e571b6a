"""The consumer's side: asking a provider for a transfer, and learning its providerPid.

``request`` checks that we hold the agreement (as consumer, with ``provider_id`` as assigner,
and — when it came from a negotiation someone started through the management API — that the
caller is that someone), creates the transfer in REQUESTED and queues the
``TransferRequestMessage`` to ``<counterparty_address>/transfers/request`` in the same
transaction. The provider's answer carries its ``providerPid``; the outbox worker hands it to
:func:`_provider_answered`. A start message that overtakes that answer supplies it too
(``incoming.py``).

For ``HttpData-PUSH`` the consumer names the endpoint the provider sends the data to: any
HTTP receiver that accepts a POST of the whole dataset (``push_endpoint``), optionally with the
``Authorization`` value it expects (``push_authorization``, sent as the data address's
``authorization`` property with ``authType: bearer`` when it is a bare token).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, col, select

from connector.delivery.outbox import on_failure, on_response
from connector.dsp import InvalidMessage, parse_message
from connector.dsp.messages import DataAddress, EndpointProperty, TransferProcess
from connector.dsp.messages.transfer import header_safe
from connector.errors import BadRequest, NotFound
from connector.negotiation.models import Agreement, Negotiation
from connector.runtime import Runtime
from connector.transfer.machine import CONSUMER, FINAL, Message, State
from connector.transfer.models import Transfer
from connector.transfer.service import (
    FORMATS,
    HTTP_ENDPOINT_TYPE,
    KIND,
    PUSH,
    advance,
    find,
    new_pid,
    send,
)
from connector.urls import url_problem

log = logging.getLogger("connector.transfer")


def _push_address(endpoint: str | None, authorization: str | None) -> DataAddress:
    problem = url_problem(endpoint)
    if problem:
        raise BadRequest(f"an HttpData-PUSH transfer needs push_endpoint: it {problem}")
    props = None
    if authorization and not header_safe(authorization):
        raise BadRequest("push_authorization must be printable ASCII (it is sent as the "
                         "Authorization header)")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        bare = token if scheme.lower() == "bearer" and token else authorization
        props = [EndpointProperty(name="authorization", value=bare),
                 EndpointProperty(name="authType", value="bearer")]
    return DataAddress(endpoint_type=HTTP_ENDPOINT_TYPE, endpoint=endpoint,
                       endpoint_properties=props)


def _agreement(session: Session, *, agreement_id: str, provider_id: str,
               participant: str) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None or agreement.role != CONSUMER or agreement.assigner != provider_id:
        raise NotFound(f"no agreement {agreement_id} with {provider_id}")
    if agreement.negotiation_id:
        negotiation = session.get(Negotiation, agreement.negotiation_id)
        started_by = getattr(negotiation, "requested_by", None)
        if started_by and started_by != participant:
            raise NotFound(f"no agreement {agreement_id} with {provider_id}")
    if agreement.status != "active":
        raise BadRequest(f"agreement {agreement_id} is {agreement.status}")
    return agreement


def request(runtime: Runtime, session: Session, *, participant: str, counterparty_address: str,
            provider_id: str, agreement_id: str, format: str,
            push_endpoint: str | None = None, push_authorization: str | None = None) -> Transfer:
    """Create a consumer transfer and queue its request to the provider; commit."""
    if format not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    problem = url_problem(counterparty_address)
    if problem:
        raise BadRequest(f"counterparty_address (the provider's DSP base URL) {problem}")
    agreement = _agreement(session, agreement_id=agreement_id, provider_id=provider_id,
                           participant=participant)
    address = _push_address(push_endpoint, push_authorization) if format == PUSH else None
    pid = new_pid()
    transfer = Transfer(
        id=pid, role=CONSUMER, consumer_pid=pid, agreement_id=agreement.id,
        dataset_id=agreement.dataset_id, counterparty=provider_id,
        callback_address=counterparty_address.rstrip("/"), format=format, state="",
        mode=agreement.mode, owner=participant,
        data_address={} if address is None else {
            "endpoint": address.endpoint, "endpoint_type": address.endpoint_type})
    advance(session, transfer, Message.REQUEST, CONSUMER)
    send(runtime, session, transfer, Message.REQUEST, data_address=address)
    session.commit()
    return transfer


def adopt_provider_pid(session: Session, transfer: Transfer, provider_pid: str) -> bool:
    """Take the provider's pid for ``transfer`` unless another transfer of ours has it."""
    if transfer.provider_pid == provider_pid:
        return True
    clash = session.exec(select(Transfer.id).where(
        col(Transfer.role) == CONSUMER, col(Transfer.provider_pid) == provider_pid)).first()
    if transfer.provider_pid is not None or clash is not None:
        return False
    transfer.provider_pid = provider_pid
    session.add(transfer)
    return True


@on_response(KIND, "TransferRequestMessage")
def _provider_answered(session: Session, process_id: str, response: dict[str, Any]) -> None:
    transfer = find(session, process_id)
    if transfer is None or transfer.role != CONSUMER or transfer.provider_pid:
        return
    try:
        pid: Any = parse_message(response, TransferProcess).provider_pid
    except InvalidMessage:
        pid = response.get("providerPid")
    if not isinstance(pid, str) or not pid or not adopt_provider_pid(session, transfer, pid):
        log.warning("the provider's answer names no usable providerPid",
                    extra={"transfer": process_id})


@on_failure(KIND)
def _undeliverable(session: Session, process_id: str, error: str) -> None:
    """A message to the other side was given up: end the transfer here, with the reason."""
    transfer = find(session, process_id)
    if transfer is None or State(transfer.state) in FINAL:
        return
    advance(session, transfer, Message.TERMINATION, transfer.role,
            reason=[{"code": "delivery_failed", "message": error[:300]}])
