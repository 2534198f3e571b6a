"""One negotiation process: find it, move it, and record the move.

Every state change goes through :func:`advance`: the transition table (``machine.py``) decides,
and the new state, its ``NegotiationEvent`` row and its audit entry are written in the caller's
transaction, so they commit together or not at all. An illegal message raises
``IllegalTransition`` (carrying both pids, which DSP error messages echo) before anything is
written. A duplicate delivery changes nothing and is answered as before.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from connector.audit import log as audit_log
from connector.errors import IllegalTransition, NotFound
from connector.negotiation.machine import ONCE, PROVIDER, Message, Move, State, move
from connector.negotiation.models import Negotiation, NegotiationEvent
from connector.timeutil import utcnow

if TYPE_CHECKING:
    from connector.runtime import Runtime

_CODED = re.compile(r"^([a-z][a-z0-9_-]{0,63}): (.+)$", re.S)


def new_pid() -> str:
    """A fresh process id: ``urn:uuid:`` (safe as a JSON-LD ``@id`` and in URLs)."""
    return f"urn:uuid:{uuid.uuid4()}"


def pids(neg: Negotiation) -> dict[str, str | None]:
    """Both pids, as extras for errors (DSP error messages echo them)."""
    return {"provider_pid": neg.provider_pid, "consumer_pid": neg.consumer_pid}


def find(session: Session, pid: str, *, lock: bool = True) -> Negotiation | None:
    """Our negotiation with id ``pid`` (either role), locked for the transaction if ``lock``."""
    return session.get(Negotiation, pid, with_for_update=True if lock else None)


def of_counterparty(session: Session, pid: str, participant: str) -> Negotiation:
    """Our negotiation ``pid`` if ``participant`` is its counterparty; 404 otherwise.

    Another participant's process is answered exactly like a missing one, so pids cannot be
    probed.
    """
    neg = find(session, pid)
    if neg is None or neg.counterparty != participant:
        raise NotFound(f"no negotiation {pid}")
    return neg


def their_pid_in_use(session: Session, neg: Negotiation, pid: str) -> bool:
    """Whether another of our negotiations of ``neg``'s role knows the other side by ``pid``
    (the other side's pids are unique per role: a table constraint)."""
    column = Negotiation.consumer_pid if neg.role == PROVIDER else Negotiation.provider_pid
    query = select(Negotiation.id).where(col(Negotiation.role) == neg.role, col(column) == pid,
                                         col(Negotiation.id) != neg.id)
    return session.exec(query.limit(1)).first() is not None


def advance(session: Session, neg: Negotiation, message: Message, sender: str, *,
            detail: Mapping[str, Any] | None = None,
            audit: Mapping[str, Any] | None = None) -> Move:
    """Apply ``message`` from ``sender`` to ``neg`` and record it; raise if it is illegal.

    ``neg.state == ""`` is a process being created. ``detail`` goes into the history row,
    ``audit`` into the audit entry.
    """
    prior = State(neg.state) if neg.state else None
    step = check(session, neg, message, sender)
    if not step.changed:
        return step
    now = utcnow()
    neg.state = step.to.value
    neg.updated_at = now
    session.add(neg)
    session.add(NegotiationEvent(negotiation_id=neg.id, from_state=prior, to_state=step.to.value,
                                 message=message.value, sender=sender, at=now,
                                 detail=dict(detail or {})))
    session.flush()
    audit_log.append(session.connection(), [{
        "type": f"negotiation.{step.to.value.lower()}", "negotiation": neg.id, "role": neg.role,
        "from": prior.value if prior else None, "to": step.to.value, "message": message.value,
        "sender": sender, "participant": neg.counterparty, "dataset": neg.dataset_id,
        **(audit or {})}])
    return step


def check(session: Session, neg: Negotiation, message: Message, sender: str) -> Move:
    """What ``message`` from ``sender`` would do to ``neg`` (nothing is written); raise if
    illegal. One of the ``ONCE`` messages seen before is a duplicate: no change."""
    prior = State(neg.state) if neg.state else None
    try:
        return move(prior, message, sender)
    except IllegalTransition as exc:
        if prior is not None and message in ONCE and _seen(session, neg.id, message, sender):
            return Move(prior, changed=False)
        raise IllegalTransition(exc.detail, state=neg.state or None, **pids(neg)) from None


def commit(session: Session, runtime: Runtime) -> None:
    """Commit, and have the delivery worker look at the outbox now rather than at its next
    poll (what was queued still waits for its delay)."""
    session.commit()
    if runtime.delivery is not None:
        runtime.delivery.wake()


def _seen(session: Session, pid: str, message: Message, sender: str) -> bool:
    query = select(NegotiationEvent.id).where(
        col(NegotiationEvent.negotiation_id) == pid,
        col(NegotiationEvent.message) == message.value,
        col(NegotiationEvent.sender) == sender)
    return session.exec(query.limit(1)).first() is not None


def reasons_in(raw: Sequence[Any] | None) -> list[dict[str, Any]]:
    """A termination's ``reason`` list as objects: ``"code: text"`` strings are split."""
    out: list[dict[str, Any]] = []
    for item in raw or []:
        if isinstance(item, dict):
            out.append(dict(item))
            continue
        text = str(item)
        coded = _CODED.match(text)
        out.append({"code": coded.group(1), "message": coded.group(2)} if coded
                   else {"message": text})
    return out


def reasons_out(reasons: Sequence[Mapping[str, Any]]) -> list[str]:
    """Reasons for the wire, as ``"code: text"`` strings.

    DSP's ``reason`` is a JSON-LD set without a type: objects with our own keys would lose them
    to compaction at the receiver (the TCK reads them as ``{}``); plain strings survive.
    """
    out = []
    for reason in reasons:
        code, text = reason.get("code"), reason.get("message") or reason.get("code") or ""
        out.append(f"{code}: {text}" if code and text != code else str(text))
    return [r for r in out if r] or ["terminated"]
