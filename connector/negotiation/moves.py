"""The moves this connector makes: a state change, what it stores, and the message announcing it.

Each function checks the move first (an illegal one raises and changes nothing; a repeat
changes and sends nothing), then records it, stores what comes with it (offer, agreement,
reasons) and queues the message, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from connector.config import Settings
from connector.negotiation import agreements, outgoing
from connector.negotiation.machine import CONSUMER, PROVIDER, Message
from connector.negotiation.models import Negotiation
from connector.negotiation.process import advance, check, reasons_out


def offer(session: Session, settings: Settings, neg: Negotiation,
          body: Mapping[str, Any]) -> None:
    """Provider: put ``body`` (a DSP message offer) on the table (→ OFFERED); a new ``neg``
    opens the negotiation with it."""
    initial = not neg.state
    if not check(session, neg, Message.OFFER, PROVIDER).changed:
        return
    neg.offer = dict(body)
    advance(session, neg, Message.OFFER, PROVIDER, detail={"offer": body.get("@id")})
    message = (outgoing.first_offer(neg, settings, body) if initial
               else outgoing.offer(neg, body))
    outgoing.send(session, settings, neg, message)


def agree(session: Session, settings: Settings, neg: Negotiation,
          rules_from: Mapping[str, Any]) -> None:
    """Provider: agree on the rules of ``rules_from`` (→ AGREED), store and send the agreement."""
    if not check(session, neg, Message.AGREEMENT, PROVIDER).changed:
        return
    odrl = agreements.build(neg, rules_from, assigner=settings.participant_id)
    advance(session, neg, Message.AGREEMENT, PROVIDER, detail={"agreement": odrl["@id"]},
            audit={"agreement": odrl["@id"]})
    agreements.record(session, neg, odrl)
    outgoing.send(session, settings, neg, outgoing.agreement(neg, odrl))


def finalize(session: Session, settings: Settings, neg: Negotiation) -> None:
    """Provider: the verified agreement is final (→ FINALIZED); it becomes active."""
    if not advance(session, neg, Message.FINALIZED, PROVIDER,
                   audit={"agreement": neg.agreement_id}).changed:
        return
    agreements.mark(session, neg, agreements.ACTIVE)
    outgoing.send(session, settings, neg, outgoing.event(neg, "FINALIZED"))


def request(session: Session, settings: Settings, neg: Negotiation, *,
            body: Mapping[str, Any] | None = None) -> None:
    """Consumer: the first request (a new ``neg``) or a counter-request (→ REQUESTED)."""
    initial = not neg.state
    check(session, neg, Message.REQUEST, CONSUMER)  # a request is never a repeat (machine.py)
    if body is not None:
        neg.offer = dict(body)
    advance(session, neg, Message.REQUEST, CONSUMER,
            detail={"offer": neg.offer.get("@id"), "purpose": neg.purpose})
    outgoing.send(session, settings, neg, outgoing.request(neg, settings, initial=initial))


def accept(session: Session, settings: Settings, neg: Negotiation) -> None:
    """Consumer: accept the provider's offer (→ ACCEPTED)."""
    if advance(session, neg, Message.ACCEPTED, CONSUMER).changed:
        outgoing.send(session, settings, neg, outgoing.event(neg, "ACCEPTED"))


def verify(session: Session, settings: Settings, neg: Negotiation) -> None:
    """Consumer: verify the provider's agreement (→ VERIFIED)."""
    if advance(session, neg, Message.VERIFICATION, CONSUMER,
               audit={"agreement": neg.agreement_id}).changed:
        outgoing.send(session, settings, neg, outgoing.verification(neg))


def terminate(session: Session, settings: Settings, neg: Negotiation, *, code: str | None,
              reasons: Sequence[Mapping[str, Any]], notify: bool = True) -> None:
    """Either role: end the negotiation (→ TERMINATED) with ``reasons``, telling the other
    side unless ``notify`` is false (it is gone, or it terminated first)."""
    if notify:
        outgoing.check_addressable(neg)
    listed = [dict(r) for r in reasons]
    if not advance(session, neg, Message.TERMINATION, neg.role,
                   detail={"code": code, "reasons": listed},
                   audit={"code": code, "reasons": listed}).changed:
        return
    neg.reason = listed
    session.add(neg)
    agreements.mark(session, neg, agreements.TERMINATED)
    if notify:
        outgoing.send(session, settings, neg,
                      outgoing.termination(neg, code, reasons_out(listed)), on_failure="log")
