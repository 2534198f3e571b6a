"""The consumer side: a provider's first offer, and what we do when the provider moves.

The provider's agreement is checked (its target must be the dataset we negotiate for) before
it moves anything, stored on arrival, and verified at once when the negotiation's
``auto_verify`` is set; the provider's FINALIZED event makes it active. Everything else a
consumer does is a management API call (``actions.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import ContractAgreementMessage, ContractOfferMessage
from connector.negotiation import agreements, moves, offers
from connector.negotiation.machine import CONSUMER, PROVIDER, Message
from connector.negotiation.models import Agreement, Negotiation
from connector.negotiation.process import advance, commit, new_pid, pids

if TYPE_CHECKING:
    from connector.runtime import Runtime


def open_offer(*, session: Session, runtime: Runtime, counterparty: str,
               message: ContractOfferMessage) -> tuple[Negotiation, bool]:
    """A provider's first ``ContractOfferMessage``: a new negotiation of ours in OFFERED, and
    whether it is new. The same offer again (same providerPid, same provider) gives the one it
    created. Nobody here asked for it, so only an admin may act on it. Commits.
    """
    if not message.initial:
        raise InvalidMessage("an offer with a consumerPid belongs to "
                             "/negotiations/{consumerPid}/offers",
                             provider_pid=message.provider_pid, consumer_pid=message.consumer_pid)
    existing = by_provider_pid(session, message.provider_pid)
    if existing is not None:
        return _same_provider(existing, counterparty), False
    neg_id = new_pid()
    neg = Negotiation(id=neg_id, role=CONSUMER, provider_pid=message.provider_pid,
                      consumer_pid=neg_id, counterparty=counterparty,
                      counterparty_address=(message.callback_address or "").rstrip("/"),
                      dataset_id=message.offer.target, offer_id=message.offer.id,
                      offer=offers.as_dict(message.offer), state="")
    try:
        session.add(neg)
        advance(session, neg, Message.OFFER, PROVIDER, detail={"offer": message.offer.id})
        commit(session, runtime)
    except IntegrityError:  # delivered twice at once: the other delivery created it
        session.rollback()
        existing = by_provider_pid(session, message.provider_pid)
        if existing is None:
            raise
        return _same_provider(existing, counterparty), False
    return neg, True


def by_provider_pid(session: Session, provider_pid: str) -> Negotiation | None:
    """Our consumer-side negotiation the provider knows as ``provider_pid``."""
    return session.exec(select(Negotiation).where(col(Negotiation.role) == CONSUMER,
                                                  col(Negotiation.provider_pid) == provider_pid)
                        ).first()


def _same_provider(existing: Negotiation, counterparty: str) -> Negotiation:
    if existing.counterparty != counterparty:
        raise InvalidMessage("this providerPid belongs to another negotiation",
                             provider_pid=existing.provider_pid)
    return existing


def vet(session: Session, neg: Negotiation, message: Message, incoming: Any) -> None:
    """Refuse (before anything moves) an agreement we could not keep."""
    if message is not Message.AGREEMENT or not isinstance(incoming, ContractAgreementMessage):
        return
    odrl = incoming.agreement
    if odrl.target != neg.dataset_id:
        raise InvalidMessage(f"the agreement's target {odrl.target!r} is not the dataset "
                             f"{neg.dataset_id!r} of this negotiation", **pids(neg))
    if odrl.id != neg.agreement_id and session.get(Agreement, odrl.id) is not None:
        raise InvalidMessage(f"agreement id {odrl.id!r} is already in use here", **pids(neg))


def react(session: Session, runtime: Runtime, neg: Negotiation, message: Message,
          incoming: Any) -> None:
    """What we do after a provider's message moved ``neg`` (already recorded)."""
    if message is Message.OFFER:
        neg.offer = offers.as_dict(incoming.offer)
        session.add(neg)
    elif message is Message.AGREEMENT:
        agreements.record(session, neg, offers.as_dict(incoming.agreement))
        if neg.auto_verify:
            moves.verify(session, runtime.settings, neg)
    elif message is Message.FINALIZED:
        agreements.mark(session, neg, agreements.ACTIVE)
