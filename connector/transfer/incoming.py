"""DSP messages about a running transfer, for either role (the same paths serve both).

The id in the path is ours: our providerPid when we provide, our consumerPid when we consume.
The message's pids must name the same process (a consumer learns an unknown providerPid from
the provider's first message); its sender is the other role. The move is recorded and
committed before the answer goes back, so the other side's next GET sees it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from connector.dsp.messages import (
    TransferCompletionMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
)
from connector.errors import BadRequest
from connector.negotiation.process import reasons_in
from connector.transfer.consumer import adopt_provider_pid
from connector.transfer.machine import CONSUMER, PROVIDER, Message
from connector.transfer.models import Transfer
from connector.transfer.service import PUSH, advance, of_counterparty, other_role, pids

ProcessMessage = (TransferStartMessage | TransferSuspensionMessage | TransferCompletionMessage
                  | TransferTerminationMessage)
MESSAGE_OF: dict[type[Any], Message] = {
    TransferStartMessage: Message.START, TransferSuspensionMessage: Message.SUSPENSION,
    TransferCompletionMessage: Message.COMPLETION, TransferTerminationMessage: Message.TERMINATION,
}


def _check_pids(session: Session, transfer: Transfer, message: ProcessMessage) -> None:
    if transfer.role == PROVIDER:
        same = message.provider_pid == transfer.id and \
            message.consumer_pid == transfer.consumer_pid
    else:
        same = message.consumer_pid == transfer.id and \
            adopt_provider_pid(session, transfer, message.provider_pid)
    if not same:
        raise BadRequest("the message's providerPid and consumerPid do not name this transfer "
                         "process", **pids(transfer))


def receive(session: Session, *, pid: str, participant: str,
            message: ProcessMessage) -> Transfer:
    """Apply a start/suspension/completion/termination from the other side; commit."""
    transfer = of_counterparty(session, pid, participant)
    _check_pids(session, transfer, message)
    kind = MESSAGE_OF[type(message)]
    raw_reason = getattr(message, "reason", None)
    code = getattr(message, "code", None)
    step = advance(session, transfer, kind, other_role(transfer),
                   reason=reasons_in(raw_reason) or None,
                   detail={"code": code} if code else None)
    if step.changed and kind is Message.START:
        if transfer.role == CONSUMER and isinstance(message, TransferStartMessage) \
                and message.data_address is not None:
            address = message.data_address
            transfer.data_address = {
                "endpoint": address.endpoint, "endpoint_type": address.endpoint_type,
                "properties": {p.name: p.value for p in address.endpoint_properties or ()}}
        elif transfer.role == PROVIDER and transfer.format == PUSH:
            # The consumer resumed: the push runs again.
            transfer.push_status, transfer.lease_until = "due", None
        session.add(transfer)
    session.commit()
    return transfer
