"""One transfer process: find it, move it, record the move, and tell the other side.

Every state change goes through :func:`advance`: the transition table (``machine.py``) decides;
the new state, its ``TransferEvent`` row and its ``transfer.<state>`` audit entry are written in
the caller's transaction. :func:`send` queues the message that tells the other side in the same
transaction (``delivery/outbox.py``), so nothing leaves unless the change commits. An illegal
message raises ``IllegalTransition`` carrying both pids (echoed by ``TransferError``); a repeat
changes nothing and sends nothing.

The role-specific steps live next door: ``provider.py`` (requests, starting, the policy),
``consumer.py`` (asking for a transfer), ``incoming.py`` (DSP messages for either role),
``actions.py`` (the management API), ``pull.py``/``push.py`` (the data plane).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlmodel import Session

from connector.audit import log as audit_log
from connector.delivery.outbox import enqueue
from connector.dsp.messages import (
    DataAddress,
    TransferCompletionMessage,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
    dump_message,
)
from connector.errors import IllegalTransition, NotFound
from connector.negotiation.process import reasons_out
from connector.runtime import Runtime
from connector.timeutil import utcnow
from connector.transfer.machine import CONSUMER, PROVIDER, Message, Move, State, move
from connector.transfer.models import Transfer, TransferEvent

KIND = "transfer"
PULL = "HttpData-PULL"
PUSH = "HttpData-PUSH"
FORMATS = (PULL, PUSH)
HTTP_ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"
DSP_PATH = "/dsp/2025-1"
_PATHS = {Message.START: "start", Message.COMPLETION: "completion",
          Message.SUSPENSION: "suspension", Message.TERMINATION: "termination"}


def new_pid() -> str:
    """A fresh process id: ``urn:uuid:`` (safe as a JSON-LD ``@id`` and in URLs)."""
    return f"urn:uuid:{uuid.uuid4()}"


def pids(transfer: Transfer) -> dict[str, str | None]:
    """Both pids, as extras for errors (``TransferError`` echoes them)."""
    return {"provider_pid": transfer.provider_pid, "consumer_pid": transfer.consumer_pid}


def other_role(transfer: Transfer) -> str:
    """The role of the other side, i.e. the sender of the messages we receive."""
    return CONSUMER if transfer.role == PROVIDER else PROVIDER


def find(session: Session, pid: str, *, lock: bool = True) -> Transfer | None:
    """Our transfer ``pid`` (either role), locked for the transaction if ``lock``."""
    return session.get(Transfer, pid, with_for_update=True if lock else None)


def of_counterparty(session: Session, pid: str, participant: str, *,
                    lock: bool = True) -> Transfer:
    """Our transfer ``pid`` if ``participant`` is its counterparty; 404 (the same) otherwise."""
    transfer = find(session, pid, lock=lock)
    if transfer is None or transfer.counterparty != participant:
        raise NotFound(f"no transfer process {pid}")
    return transfer


def advance(session: Session, transfer: Transfer, message: Message, sender: str, *,
            reason: Sequence[Mapping[str, Any]] | None = None,
            detail: Mapping[str, Any] | None = None,
            audit: Mapping[str, Any] | None = None) -> Move:
    """Apply ``message`` from ``sender`` and record it; raise ``IllegalTransition`` if illegal.

    ``transfer.state == ""`` is a process being created. ``reason`` (a termination's or
    suspension's reasons) is kept on the row; ``detail`` goes into the history row and
    ``audit`` into the audit entry.
    """
    prior = State(transfer.state) if transfer.state else None
    try:
        step = move(prior, message, sender)
    except IllegalTransition as exc:
        raise IllegalTransition(exc.detail, state=transfer.state or None,
                                **pids(transfer)) from None
    if not step.changed:
        return step
    now = utcnow()
    transfer.state = step.to.value
    transfer.updated_at = now
    if reason:
        transfer.reason = [dict(r) for r in reason]
    session.add(transfer)
    session.flush()
    session.add(TransferEvent(transfer_id=transfer.id,
                              from_state=prior.value if prior else None,
                              to_state=step.to.value, message=message.value, sender=sender, at=now,
                              detail={**(detail or {}),
                                      **({"reason": [dict(r) for r in reason]} if reason else {})}))
    session.flush()
    entry: dict[str, Any] = {
        "type": f"transfer.{step.to.value.lower()}", "transfer": transfer.id,
        "role": transfer.role, "provider_pid": transfer.provider_pid,
        "consumer_pid": transfer.consumer_pid, "agreement": transfer.agreement_id,
        "dataset": transfer.dataset_id, "participant": transfer.counterparty,
        "format": transfer.format, "from": prior.value if prior else None,
        "to": step.to.value, "message": message.value, "sender": sender}
    if step.to is State.COMPLETED:
        entry.update(pulls=transfer.pulls, bytes=transfer.bytes_sent, sha256=transfer.sha256)
    if reason:
        entry["reasons"] = [dict(r) for r in reason]
    audit_log.append(session.connection(), [{**entry, **(audit or {})}])
    return step


def wire_state(transfer: Transfer, state: str | None = None) -> dict[str, Any]:
    """The ``TransferProcess`` document of ``transfer`` (in ``state``, default its own)."""
    return dump_message(TransferProcess(provider_pid=transfer.provider_pid or "",
                                        consumer_pid=transfer.consumer_pid or "",
                                        state=state or transfer.state))


def callback_base(public_url: str) -> str:
    """Our DSP base, as we give it as ``callbackAddress`` (no trailing slash: the TCK appends)."""
    return public_url.rstrip("/") + DSP_PATH


def _url(transfer: Transfer, message: Message) -> str:
    base = (transfer.callback_address or "").rstrip("/")
    if message is Message.REQUEST:
        return f"{base}/transfers/request"
    other = transfer.consumer_pid if transfer.role == PROVIDER else transfer.provider_pid
    return f"{base}/transfers/{quote(other or '', safe=':@')}/{_PATHS[message]}"


def _body(runtime: Runtime, transfer: Transfer, message: Message, *,
          data_address: DataAddress | None, code: str | None,
          reason: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    ids = {"provider_pid": transfer.provider_pid or "", "consumer_pid": transfer.consumer_pid or ""}
    wire_reason = reasons_out(reason) if reason else None
    if message is Message.REQUEST:
        return dump_message(TransferRequestMessage(
            consumer_pid=ids["consumer_pid"], agreement_id=transfer.agreement_id,
            format=transfer.format, data_address=data_address,
            callback_address=callback_base(runtime.settings.public_url)))
    if message is Message.START:
        return dump_message(TransferStartMessage(**ids, data_address=data_address))
    if message is Message.COMPLETION:
        return dump_message(TransferCompletionMessage(**ids))
    if message is Message.SUSPENSION:
        return dump_message(TransferSuspensionMessage(**ids, code=code, reason=wire_reason))
    return dump_message(TransferTerminationMessage(**ids, code=code, reason=wire_reason))


def send(runtime: Runtime, session: Session, transfer: Transfer, message: Message, *,
         data_address: DataAddress | None = None, code: str | None = None,
         reason: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Queue ``message`` to the other side, in the caller's transaction.

    A message that cannot be delivered in ``dsp_retry_seconds`` terminates the process locally
    (``consumer.py`` registers that failure handler), except a termination, which already did.
    """
    settings = runtime.settings
    enqueue(session, url=_url(transfer, message),
            body=_body(runtime, transfer, message, data_address=data_address, code=code,
                       reason=reason),
            counterparty=transfer.counterparty, process_kind=KIND, process_id=transfer.id,
            delay=settings.dsp_callback_delay, retry_for=settings.dsp_retry_seconds,
            on_failure="log" if message is Message.TERMINATION else "terminate")


def view(transfer: Transfer) -> dict[str, Any]:
    """The transfer as the management API shows it (never a token)."""
    address = transfer.data_address or {}
    return {"id": transfer.id, "role": transfer.role, "state": transfer.state,
            "provider_pid": transfer.provider_pid, "consumer_pid": transfer.consumer_pid,
            "agreement_id": transfer.agreement_id, "dataset_id": transfer.dataset_id,
            "counterparty": transfer.counterparty,
            "counterparty_address": transfer.callback_address, "format": transfer.format,
            "mode": transfer.mode, "owner": transfer.owner,
            "data_address": {k: address[k] for k in ("endpoint", "endpoint_type")
                             if k in address} or None,
            "pulls": transfer.pulls, "bytes": transfer.bytes_sent, "sha256": transfer.sha256,
            "push_status": transfer.push_status, "reason": list(transfer.reason),
            "created_at": _iso(transfer.created_at), "updated_at": _iso(transfer.updated_at)}


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
