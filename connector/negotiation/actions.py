"""The management API's negotiation actions: the provider owner's steps and the consumer's.

Provider side (scope ``offers``; the dataset's owner, or an admin): offer first, offer, agree,
finalize, terminate — what ``manual`` mode waits for, and what may override ``auto``. Consumer side
(scope ``negotiate``; whoever started the negotiation here, or an admin): initiate, accept,
counter-request, verify, terminate. A negotiation the caller may not see is 404; one of the
other role is 409; one on a dataset the caller does not own is 403. Each call commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from connector.auth.principal import Principal
from connector.catalog.models import Offer
from connector.errors import Conflict, Forbidden, InsufficientScope, NotFound, ValidationFailed
from connector.negotiation import moves, offers, views
from connector.negotiation.machine import CONSUMER, PROVIDER
from connector.negotiation.models import Negotiation
from connector.negotiation.process import commit, find, new_pid, reasons_in
from connector.runtime import Runtime
from connector.urls import url_problem

SCOPE_OF_ROLE = {PROVIDER: "offers", CONSUMER: "negotiate"}


def _load(session: Session, principal: Principal, negotiation_id: str,
          role: str | None) -> Negotiation:
    neg = find(session, negotiation_id)
    if neg is None or not views.can_see(session, principal, neg):
        raise NotFound(f"no negotiation {negotiation_id}")
    if role is not None and neg.role != role:
        raise Conflict(f"in negotiation {neg.id} we are the {neg.role}: this is a {role}'s "
                       "action")
    needed = SCOPE_OF_ROLE[neg.role]
    if needed not in principal.scopes:
        raise InsufficientScope(f"acting as the {neg.role} needs scope {needed}", scope=needed)
    if neg.role == PROVIDER and not views.owns_dataset(session, principal, neg.dataset_id):
        raise Forbidden(f"only the owner of dataset {neg.dataset_id} (or an admin) may act on "
                        "this negotiation")
    return neg


def _check_address(address: str) -> None:
    problem = url_problem(address)
    if problem:
        raise ValidationFailed(f"counterparty_address {problem}", errors=[
            {"path": "counterparty_address", "message": problem, "kind": "url"}])


def initiate(*, session: Session, runtime: Runtime, principal: Principal,
             counterparty_address: str, provider_id: str, offer: Mapping[str, Any] | None = None,
             offer_id: str | None = None, dataset_id: str | None = None,
             purpose: str | None = None, auto_verify: bool = True) -> Negotiation:
    """Start a negotiation as consumer on another connector's offer (→ REQUESTED).

    ``offer`` is the ODRL offer as the provider's catalog shows it; or ``offer_id`` and
    ``dataset_id`` alone, which request that offer with a plain ``use`` permission (the
    provider recognises its offer by id).
    """
    if offer is None:
        if not (offer_id and dataset_id):
            raise ValidationFailed("give the offer, or offer_id and dataset_id")
        offer = {"@id": offer_id, "permission": [{"action": "use"}]}
    target = dataset_id or offer.get("target")
    if not isinstance(target, str) or not target:
        raise ValidationFailed("name the dataset: dataset_id, or the offer's target")
    body = offers.message_offer(offer, target=target, offer_id=offer_id)
    if body["target"] != target:
        raise ValidationFailed(f"the offer's target {body['target']!r} is not {target!r}")
    _check_address(counterparty_address)
    neg_id = new_pid()
    neg = Negotiation(id=neg_id, role=CONSUMER, consumer_pid=neg_id, counterparty=provider_id,
                      counterparty_address=counterparty_address.rstrip("/"), dataset_id=target,
                      offer_id=body["@id"], offer=body, state="", auto_verify=auto_verify,
                      purpose=purpose, requested_by=principal.participant)
    session.add(neg)
    moves.request(session, runtime.settings, neg)
    commit(session, runtime)
    return neg


def offer_first(*, session: Session, runtime: Runtime, principal: Principal, offer_id: str,
                consumer_id: str, counterparty_address: str) -> Negotiation:
    """Provider: open a negotiation by offering one of our offers to a consumer (→ OFFERED).

    ``counterparty_address`` is the consumer's DSP callback base; the offer names the consumer
    as its ``assignee``. The consumer's answer gives its consumerPid.
    """
    ours = session.get(Offer, offer_id)
    if ours is None or not views.owns_dataset(session, principal, ours.dataset_id):
        raise NotFound(f"no offer {offer_id} of yours")
    _check_address(counterparty_address)
    settings = runtime.settings
    body = offers.message_offer({**ours.odrl, "assignee": consumer_id},
                                target=ours.dataset_id, offer_id=ours.id,
                                assigner=settings.participant_id)
    neg_id = new_pid()
    neg = Negotiation(id=neg_id, role=PROVIDER, provider_pid=neg_id, counterparty=consumer_id,
                      counterparty_address=counterparty_address.rstrip("/"),
                      dataset_id=ours.dataset_id, offer_id=ours.id, offer=body, state="",
                      mode=ours.mode)
    session.add(neg)
    moves.offer(session, settings, neg, body)
    commit(session, runtime)
    return neg


def offer(*, session: Session, runtime: Runtime, principal: Principal, negotiation_id: str,
          body: Mapping[str, Any] | None = None) -> Negotiation:
    """Provider: send an offer — ``body``, or else our offer the request named (→ OFFERED)."""
    neg = _load(session, principal, negotiation_id, PROVIDER)
    settings = runtime.settings
    ours = session.get(Offer, neg.offer_id) if body is None and neg.offer_id else None
    raw, ident = (ours.odrl, ours.id) if ours is not None else (body or neg.offer, None)
    message_offer = offers.message_offer(raw, target=neg.dataset_id, offer_id=ident,
                                         assigner=settings.participant_id)
    if message_offer["target"] != neg.dataset_id:
        raise ValidationFailed(f"the offer's target must be the dataset {neg.dataset_id!r}")
    moves.offer(session, settings, neg, message_offer)
    matched = offers.match(session, neg.dataset_id, message_offer)
    neg.offer_id = matched.id if matched is not None else None
    session.add(neg)
    commit(session, runtime)
    return neg


def agree(*, session: Session, runtime: Runtime, principal: Principal,
          negotiation_id: str) -> Negotiation:
    """Provider: agree on the offer on the table (→ AGREED); the agreement is sent."""
    neg = _load(session, principal, negotiation_id, PROVIDER)
    moves.agree(session, runtime.settings, neg, neg.offer)
    commit(session, runtime)
    return neg


def finalize(*, session: Session, runtime: Runtime, principal: Principal,
             negotiation_id: str) -> Negotiation:
    """Provider: finalize a verified agreement (→ FINALIZED)."""
    neg = _load(session, principal, negotiation_id, PROVIDER)
    moves.finalize(session, runtime.settings, neg)
    commit(session, runtime)
    return neg


def accept(*, session: Session, runtime: Runtime, principal: Principal,
           negotiation_id: str) -> Negotiation:
    """Consumer: accept the provider's offer (→ ACCEPTED)."""
    neg = _load(session, principal, negotiation_id, CONSUMER)
    moves.accept(session, runtime.settings, neg)
    commit(session, runtime)
    return neg


def counter_request(*, session: Session, runtime: Runtime, principal: Principal,
                    negotiation_id: str, body: Mapping[str, Any] | None = None) -> Negotiation:
    """Consumer: answer the provider's offer with a request — ``body`` or the offer on the
    table (→ REQUESTED)."""
    neg = _load(session, principal, negotiation_id, CONSUMER)
    message_offer = offers.message_offer(body or neg.offer, target=neg.dataset_id)
    moves.request(session, runtime.settings, neg, body=message_offer)
    commit(session, runtime)
    return neg


def verify(*, session: Session, runtime: Runtime, principal: Principal,
           negotiation_id: str) -> Negotiation:
    """Consumer: verify the provider's agreement (→ VERIFIED)."""
    neg = _load(session, principal, negotiation_id, CONSUMER)
    moves.verify(session, runtime.settings, neg)
    commit(session, runtime)
    return neg


def terminate(*, session: Session, runtime: Runtime, principal: Principal,
              negotiation_id: str, code: str | None = None,
              reason: Sequence[str] = ()) -> Negotiation:
    """Either role: terminate (→ TERMINATED) and tell the other side why."""
    neg = _load(session, principal, negotiation_id, None)
    reasons = reasons_in(list(reason)) or [
        {"code": "terminated", "message": f"terminated by {principal.participant}"}]
    moves.terminate(session, runtime.settings, neg, code=code, reasons=reasons)
    commit(session, runtime)
    return neg
