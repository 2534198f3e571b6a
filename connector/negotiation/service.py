"""Contract negotiation over DSP: what the routes under ``/dsp/2025-1/negotiations`` call.

The provider endpoints and the consumer callbacks share their path shapes, so an id in a path
is looked up among our negotiations of either role (it is our own pid, unique across both).
The message then must suit the role: a message only a consumer sends, arriving at a negotiation
where the other side is the consumer, is accepted; the same message at one where we are the
consumer is an illegal transition (400), like any message in the wrong state. A negotiation
whose counterparty is not the caller is answered 404, like a missing one.

Each call is one transaction: the move, its history row and audit entry, what it stores, our
reaction to it (``auto`` provider steps, a consumer's auto-verification) and the messages they
send commit together. The answer is the state right after the incoming message, before our
own reactions: those reach the other side as messages of their own.
"""

from __future__ import annotations

from sqlmodel import Session

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
)
from connector.negotiation import agreements, consumer, provider
from connector.negotiation.machine import CONSUMER, PROVIDER, Message, other
from connector.negotiation.models import Negotiation
from connector.negotiation.process import (
    advance,
    commit,
    of_counterparty,
    pids,
    reasons_in,
    their_pid_in_use,
)
from connector.runtime import Runtime

_KINDS: dict[type[DspModel], Message] = {
    ContractRequestMessage: Message.REQUEST, ContractOfferMessage: Message.OFFER,
    ContractAgreementMessage: Message.AGREEMENT,
    ContractAgreementVerificationMessage: Message.VERIFICATION,
    ContractNegotiationTerminationMessage: Message.TERMINATION,
}


def ack(neg: Negotiation, state: str | None = None) -> ContractNegotiation:
    """The ``ContractNegotiation`` answer. ``providerPid`` is empty while we, the consumer,
    wait for the provider's answer to our first request."""
    return ContractNegotiation(provider_pid=neg.provider_pid or "",
                               consumer_pid=neg.consumer_pid or "",
                               state=state or neg.state)


def open_request(*, session: Session, runtime: Runtime, counterparty: str,
                 message: ContractRequestMessage) -> ContractNegotiation:
    """``POST /negotiations/request``: a consumer opens a negotiation with us (provider)."""
    neg, created = provider.open_request(session=session, runtime=runtime,
                                         counterparty=counterparty, message=message)
    return ack(neg, "REQUESTED" if created else None)


def open_offer(*, session: Session, runtime: Runtime, counterparty: str,
               message: ContractOfferMessage) -> ContractNegotiation:
    """``POST /negotiations/offers``: a provider offers to us (consumer) first."""
    neg, created = consumer.open_offer(session=session, runtime=runtime,
                                       counterparty=counterparty, message=message)
    return ack(neg, "OFFERED" if created else None)


def receive(*, session: Session, runtime: Runtime, counterparty: str, pid: str,
            message: DspModel) -> ContractNegotiation:
    """A message to our negotiation ``pid`` (either role). Commits."""
    neg = of_counterparty(session, pid, counterparty)
    kind = kind_of(message)
    sender = other(neg.role)
    _check_pids(session, neg, pid, message)
    if neg.role == CONSUMER:
        consumer.vet(session, neg, kind, message)
    detail: dict[str, object] = {}
    if isinstance(message, ContractNegotiationTerminationMessage):
        detail = {"code": message.code, "reasons": reasons_in(message.reason)}
    step = advance(session, neg, kind, sender, detail=detail, audit=detail)
    answered = neg.state
    if step.changed:
        if isinstance(message, ContractNegotiationTerminationMessage):
            neg.reason = reasons_in(message.reason)
            session.add(neg)
            agreements.mark(session, neg, agreements.TERMINATED)
        elif neg.role == PROVIDER:
            provider.react(session, runtime, neg, kind, message)
        else:
            consumer.react(session, runtime, neg, kind, message)
    commit(session, runtime)
    return ack(neg, answered)


def state_of(*, session: Session, counterparty: str, pid: str) -> ContractNegotiation:
    """``GET /negotiations/{pid}``: the state of our negotiation, for its counterparty."""
    return ack(of_counterparty(session, pid, counterparty))


def kind_of(message: DspModel) -> Message:
    """The transition-table message a DSP message is."""
    if isinstance(message, ContractNegotiationEventMessage):
        return Message.ACCEPTED if message.event_type == "ACCEPTED" else Message.FINALIZED
    return _KINDS[type(message)]


def _check_pids(session: Session, neg: Negotiation, pid: str, message: DspModel) -> None:
    """The message must name our pid (the path's) and the other side's, as we know it."""
    ours = "provider_pid" if neg.role == PROVIDER else "consumer_pid"
    theirs = "consumer_pid" if neg.role == PROVIDER else "provider_pid"
    named_ours, named_theirs = getattr(message, ours, None), getattr(message, theirs, None)
    wire = {"provider_pid": "providerPid", "consumer_pid": "consumerPid"}
    if named_ours != pid:
        raise InvalidMessage(f"{wire[ours]} {named_ours!r} is not {pid!r} of the path "
                             "(a first request or offer has its own path)", **pids(neg))
    known = getattr(neg, theirs)
    if known is None and named_theirs:
        # The answer to our first message may not be recorded yet: this message tells.
        if their_pid_in_use(session, neg, named_theirs):
            raise InvalidMessage(f"{wire[theirs]} {named_theirs!r} belongs to another "
                                 "negotiation", **pids(neg))
        setattr(neg, theirs, named_theirs)
        session.add(neg)
    elif named_theirs != known:
        raise InvalidMessage(f"{wire[theirs]} {named_theirs!r} is not this negotiation's "
                             f"({known!r})", **pids(neg))
