"""Queueing outgoing DSP messages inside the transaction that decides to send them.

The message leaves only after that transaction commits (a worker picks it up), so a reply to
the request that caused it always reaches the other side first, and a rolled-back change never
sends anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from connector.delivery.models import OutboxMessage
from connector.timeutil import utcnow

#: (process kind, message @type) → what to do with the other side's JSON answer, in the
#: worker's transaction. E.g. storing the providerPid a provider answers a request with.
ResponseHandler = Callable[[Session, str, dict[str, Any]], None]
#: process kind → what to do when delivery is given up (e.g. terminate the process locally).
FailureHandler = Callable[[Session, str, str], None]

RESPONSE_HANDLERS: dict[tuple[str, str], ResponseHandler] = {}
FAILURE_HANDLERS: dict[str, FailureHandler] = {}


def on_response(kind: str, message_type: str) -> Callable[[ResponseHandler], ResponseHandler]:
    """Register the handler of the answer to ``message_type`` sent for a ``kind`` process."""
    def register(fn: ResponseHandler) -> ResponseHandler:
        RESPONSE_HANDLERS[(kind, message_type)] = fn
        return fn
    return register


def on_failure(kind: str) -> Callable[[FailureHandler], FailureHandler]:
    """Register what happens to a ``kind`` process whose message could not be delivered."""
    def register(fn: FailureHandler) -> FailureHandler:
        FAILURE_HANDLERS[kind] = fn
        return fn
    return register


def enqueue(session: Session, *, url: str, body: dict[str, Any], counterparty: str,
            process_kind: str, process_id: str, delay: float = 0.0,
            retry_for: float = 60.0, on_failure: str = "log") -> OutboxMessage:
    """Queue ``body`` for a POST to ``url``; it is sent after the session commits.

    ``delay`` holds it back (seconds) after the commit; delivery is retried with back-off on
    connection errors, 404, 408, 425, 429 and 5xx for ``retry_for`` seconds, then given up
    (``on_failure="terminate"`` asks the process kind's failure handler to end the process).
    """
    now = utcnow()
    row = OutboxMessage(url=url, body=body, counterparty=counterparty, process_kind=process_kind,
                        process_id=process_id, on_failure=on_failure,
                        not_before=now + timedelta(seconds=delay),
                        deadline=now + timedelta(seconds=delay + retry_for))
    session.add(row)
    return row
