"""The provider side: a consumer's first request, and what ``auto`` mode does on its own.

``auto`` (the offer's mode, copied to the negotiation): on a request the ``negotiate`` policy
decision runs; a deny terminates with the decision's reasons, an allow leads to an agreement —
after the decision ran once more right before agreeing (time, approvals and participant
attributes may have changed since the request). An offer whose policy needs the owner's
approval keeps the negotiation in REQUESTED when approval is all that is missing; issue 6's
approval API then calls :func:`decide_pending`. On the consumer's verification the provider
finalizes. ``manual``: nothing happens until the owner calls the management API.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connector.access import service as access
from connector.audit import log as audit_log
from connector.catalog.models import Dataset, Offer
from connector.decisions import decide
from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import ContractRequestMessage
from connector.errors import IllegalTransition, NotFound, UnsupportedPolicy, ValidationFailed
from connector.negotiation import moves, offers
from connector.negotiation.machine import CONSUMER, PROVIDER, Message, State
from connector.negotiation.models import Negotiation
from connector.negotiation.process import advance, commit, find, new_pid, pids
from connector.policy.engine import Decision
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime

log = logging.getLogger("connector.negotiation")
AUTO = "auto"


def open_request(*, session: Session, runtime: Runtime, counterparty: str,
                 message: ContractRequestMessage) -> tuple[Negotiation, bool]:
    """A consumer's first ``ContractRequestMessage``: a new negotiation in REQUESTED, and
    whether it is new. The same request again (same consumerPid, same consumer) gives the
    negotiation it created. Commits.
    """
    if not message.initial:
        raise InvalidMessage("a request with a providerPid belongs to "
                             "/negotiations/{providerPid}/request",
                             consumer_pid=message.consumer_pid, provider_pid=message.provider_pid)
    existing = _by_consumer_pid(session, message.consumer_pid)
    if existing is not None:
        return _same_consumer(existing, counterparty), False
    requested = offers.as_dict(message.offer)
    dataset_id = message.offer.target
    echo = {"consumer_pid": message.consumer_pid}
    if session.get(Dataset, dataset_id) is None:
        raise InvalidMessage(f"no dataset {dataset_id!r} here", **echo)
    offer = offers.match(session, dataset_id, requested)
    if offer is None:
        raise InvalidMessage(f"the requested offer {requested.get('@id')!r} is not an offer of "
                             f"dataset {dataset_id!r} (neither by id nor by its terms)", **echo)
    neg_id = new_pid()
    neg = Negotiation(id=neg_id, role=PROVIDER, provider_pid=neg_id,
                      consumer_pid=message.consumer_pid, counterparty=counterparty,
                      counterparty_address=(message.callback_address or "").rstrip("/"),
                      dataset_id=dataset_id, offer_id=offer.id, offer=requested, state="",
                      mode=offer.mode, purpose=offers.purpose_of(message))
    try:
        session.add(neg)
        advance(session, neg, Message.REQUEST, CONSUMER,
                detail={"offer": requested.get("@id"), "purpose": neg.purpose})
        if neg.mode == AUTO:
            on_request(session, runtime, neg)
        commit(session, runtime)
    except IntegrityError:  # the same request, delivered twice at once: the other one won
        session.rollback()
        existing = _by_consumer_pid(session, message.consumer_pid)
        if existing is None:
            raise
        return _same_consumer(existing, counterparty), False
    return neg, True


def _by_consumer_pid(session: Session, consumer_pid: str) -> Negotiation | None:
    return session.exec(select(Negotiation).where(col(Negotiation.role) == PROVIDER,
                                                  col(Negotiation.consumer_pid) == consumer_pid)
                        ).first()


def _same_consumer(existing: Negotiation, counterparty: str) -> Negotiation:
    if existing.counterparty != counterparty:
        raise InvalidMessage("this consumerPid belongs to another negotiation",
                             consumer_pid=existing.consumer_pid)
    return existing


def react(session: Session, runtime: Runtime, neg: Negotiation, message: Message,
          incoming: Any) -> None:
    """What we do after a consumer's message moved ``neg`` (already recorded)."""
    if message is Message.REQUEST:  # a counter-request: its offer is now on the table
        neg.offer = offers.as_dict(incoming.offer)
        neg.purpose = offers.purpose_of(incoming) or neg.purpose
        matched = offers.match(session, neg.dataset_id, neg.offer)
        neg.offer_id = matched.id if matched is not None else None
        session.add(neg)
        if neg.mode == AUTO:
            on_request(session, runtime, neg)
    elif message is Message.ACCEPTED and neg.mode == AUTO:
        agree_if_allowed(session, runtime, neg)
    elif message is Message.VERIFICATION and neg.mode == AUTO:
        moves.finalize(session, runtime.settings, neg)


def on_request(session: Session, runtime: Runtime, neg: Negotiation) -> None:
    """``auto``: decide on a request; agree, wait for approval, or terminate with reasons."""
    terms = _terms(session, runtime, neg)
    if terms is None:
        return
    dataset, _, policy = terms
    approval = None
    if policy.get("approval_required"):
        approval = {"status": "pending", "participant": neg.counterparty,
                    "dataset": neg.dataset_id}
    decision = _decide(runtime, session, neg, dataset, policy, "requested", approval)
    if decision.allow:
        agree_if_allowed(session, runtime, neg)
    elif approval is not None and {r.code for r in decision.reasons} == {"approval_missing"}:
        audit_log.append(session.connection(), [{
            "type": "negotiation.approval_pending", "negotiation": neg.id,
            "participant": neg.counterparty, "dataset": neg.dataset_id}])
        access.open_request(session, negotiation_id=neg.id, dataset_id=neg.dataset_id,
                            owner=dataset.owner, requester=neg.counterparty,
                            purpose=neg.purpose, signing_key=runtime.keys.current("receipt"),
                            issuer=runtime.settings.effective_issuer)
    else:
        _deny(session, runtime, neg, decision)


def agree_if_allowed(session: Session, runtime: Runtime, neg: Negotiation, *,
                     approval: Mapping[str, Any] | None = None,
                     why_not: str | None = None,
                     narrowed: Mapping[str, Any] | None = None) -> None:
    """Decide once more, right before agreeing; agree on our offer's rules or terminate
    (``why_not``, the owner's words on a rejection, leads the reasons)."""
    terms = _terms(session, runtime, neg)
    if terms is None:
        return
    dataset, offer, policy = terms
    odrl = offer.odrl
    if narrowed:  # the owner approved narrower terms: they become the agreement's
        odrl = narrow(odrl, narrowed)
        policy = normalise_policy(odrl)
    decision = _decide(runtime, session, neg, dataset, policy, "agreeing", approval)
    if not decision.allow:
        _deny(session, runtime, neg, decision, why_not)
        return
    try:
        moves.agree(session, runtime.settings, neg, odrl)
    except ValidationFailed as exc:  # our offer cannot be written as a DSP agreement
        log.warning("offer does not make a DSP agreement", extra={"offer": offer.id})
        moves.terminate(session, runtime.settings, neg, code="offer-unavailable", reasons=[
            {"code": "offer_invalid", "message": f"{exc.detail}: {exc.extra.get('errors')}"}])


def decide_pending(*, session: Session, runtime: Runtime, negotiation_id: str,
                   approval: Mapping[str, Any], reason: str | None = None,
                   narrowed: Mapping[str, Any] | None = None) -> Negotiation:
    """Decide a negotiation that waits in REQUESTED for the owner's approval (issue 6).

    ``approval`` is the decision input's ``context.approval`` (``{"status": "approved" |
    "rejected", "participant": …, "dataset": …}``); ``reason``, the owner's words on a
    rejection, reaches the consumer first among the reasons (code ``approval_rejected``).
    Agrees or terminates. Does not commit: the caller commits its approval record with the
    outcome.
    """
    neg = find(session, negotiation_id)
    if neg is None or neg.role != PROVIDER:
        raise NotFound(f"no provider negotiation {negotiation_id}")
    if neg.state != State.REQUESTED:
        raise IllegalTransition(f"negotiation {neg.id} is {neg.state}, not waiting for a "
                                "decision", state=neg.state, **pids(neg))
    agree_if_allowed(session, runtime, neg, approval=approval, why_not=reason,
                     narrowed=narrowed)
    return neg


#: The ODRL left operand and operator each narrowable term becomes.
_NARROWING = {"purpose": ("purpose", "eq"), "not_before": ("dateTime", "gteq"),
              "not_after": ("dateTime", "lteq"), "max_count": ("count", "lteq")}


def narrow(odrl: Mapping[str, Any], narrowed: Mapping[str, Any]) -> dict[str, Any]:
    """``odrl`` with the owner's narrower terms replacing the permission's own constraints on
    the same operands (a purpose, a usage window edge, a number of transfers)."""
    result = copy.deepcopy(dict(odrl))
    permission = result["permission"][0]
    constraints = list(permission.get("constraint", []))
    for key, value in narrowed.items():
        operand, operator = _NARROWING[key]

        def same(c: Mapping[str, Any], operand: str = operand, operator: str = operator) -> bool:
            left = c.get("leftOperand")
            left = left.get("@id") if isinstance(left, dict) else left
            return str(left).split(":")[-1].split("/")[-1] == operand and (
                operand != "dateTime" or c.get("operator") == operator)

        constraints = [c for c in constraints if not same(c)]
        # DSP's schema has no bare numbers as right operands: a count is a typed literal.
        right = {"@value": value, "@type": "xsd:integer"} if key == "max_count" else value
        constraints.append({"leftOperand": operand, "operator": operator,
                            "rightOperand": right})
    permission["constraint"] = constraints
    return result


def _terms(session: Session, runtime: Runtime,
           neg: Negotiation) -> tuple[Dataset, Offer, dict[str, Any]] | None:
    """The dataset, our offer and its policy; terminates (and returns None) without them."""
    dataset = session.get(Dataset, neg.dataset_id)
    offer = session.get(Offer, neg.offer_id) if neg.offer_id else None
    reason: dict[str, str] | None = None
    if dataset is None or offer is None:
        reason = {"code": "offer_not_available",
                  "message": "the requested terms are not an offer of this dataset (any more)"}
    else:
        try:
            return dataset, offer, offers.policy_of(offer)
        except UnsupportedPolicy as exc:
            log.warning("offer has an unsupported policy", extra={"offer": offer.id})
            reason = {"code": "policy_unsupported", "message": exc.detail}
    moves.terminate(session, runtime.settings, neg, code="offer-unavailable", reasons=[reason])
    return None


def _decide(runtime: Runtime, session: Session, neg: Negotiation, dataset: Dataset,
            policy: Mapping[str, Any], stage: str,
            approval: Mapping[str, Any] | None) -> Decision:
    return decide(runtime, session.connection(), action="negotiate",
                  participant=neg.counterparty, dataset=dataset, policy=policy,
                  purpose=neg.purpose, approval=approval,
                  extra={"negotiation": neg.id, "stage": stage})


def _deny(session: Session, runtime: Runtime, neg: Negotiation, decision: Decision,
          why_not: str | None = None) -> None:
    owner = [{"code": "approval_rejected", "message": why_not}] if why_not else []
    moves.terminate(session, runtime.settings, neg, code="policy-denied",
                    reasons=[*owner, *(r.as_dict() for r in decision.reasons)])
