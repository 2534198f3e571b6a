"""What happens when the other side answers our messages, or cannot be reached.

Registered with the outbox (``delivery/outbox.py``) on import; ``connector.negotiation``
imports this module, so any code that uses negotiations has the handlers in place. Both run in
the delivery worker's transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from connector.delivery.outbox import on_failure, on_response
from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import ContractNegotiation, parse_message
from connector.negotiation import agreements
from connector.negotiation.machine import CONSUMER, FINAL, PROVIDER, Message, State
from connector.negotiation.outgoing import KIND
from connector.negotiation.process import advance, find, their_pid_in_use

log = logging.getLogger("connector.negotiation")


@on_response(KIND, "ContractRequestMessage")
def store_provider_pid(session: Session, process_id: str, response: dict[str, Any]) -> None:
    """The provider answers our first request with its ``providerPid``: keep it."""
    _store_their_pid(session, process_id, response, CONSUMER)


@on_response(KIND, "ContractOfferMessage")
def store_consumer_pid(session: Session, process_id: str, response: dict[str, Any]) -> None:
    """The consumer answers our first offer with its ``consumerPid``: keep it."""
    _store_their_pid(session, process_id, response, PROVIDER)


def _store_their_pid(session: Session, process_id: str, response: dict[str, Any],
                     role: str) -> None:
    neg = find(session, process_id)
    if neg is None or neg.role != role:
        return
    ours, theirs = ("consumer_pid", "provider_pid") if role == CONSUMER else \
        ("provider_pid", "consumer_pid")
    try:
        answer = parse_message(response, ContractNegotiation)
    except InvalidMessage as exc:
        log.warning("the answer to our first message is no ContractNegotiation",
                    extra={"negotiation": neg.id, "error": exc.detail})
        return
    named = getattr(answer, theirs)
    if getattr(answer, ours) != neg.id or not named:
        log.warning("the answer names another negotiation", extra={"negotiation": neg.id})
        return
    known = getattr(neg, theirs)
    if known is None:
        if their_pid_in_use(session, neg, named):
            log.warning("the answer gives a pid we already know", extra={
                "negotiation": neg.id, "pid": named})
            return
        setattr(neg, theirs, named)
        session.add(neg)
    elif known != named:
        log.warning("the answer gives a different pid", extra={"negotiation": neg.id,
                                                               "pid": named})


@on_failure(KIND)
def terminate_undeliverable(session: Session, process_id: str, error: str) -> None:
    """A message the negotiation depends on was given up: terminate here, tell nobody (the
    other side is unreachable, or refused the message)."""
    neg = find(session, process_id)
    if neg is None or State(neg.state) in FINAL:
        return
    reasons = [{"code": "delivery_failed", "message": error[:500]}]
    advance(session, neg, Message.TERMINATION, neg.role, detail={"reasons": reasons},
            audit={"code": "delivery-failed", "reasons": reasons})
    neg.reason = reasons
    session.add(neg)
    agreements.mark(session, neg, agreements.TERMINATED)
