"""What the management API shows: the negotiations and agreements a principal may see, paged.

Who sees what: an admin sees everything. A dataset's owner sees the provider-side
negotiations and agreements on it; a partner sees the provider-side ones where it is the
consumer, and the consumer-side ones it started here. Pages run newest first; the cursor is
opaque (the position of the last item).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from connector.auth.principal import Principal
from connector.catalog.models import Dataset
from connector.errors import BadRequest, NotFound
from connector.negotiation.machine import CONSUMER, PROVIDER
from connector.negotiation.models import Agreement, Negotiation, NegotiationEvent

MAX_PAGE = 100
T = TypeVar("T", Negotiation, Agreement)


def is_admin(principal: Principal) -> bool:
    return principal.has_role("admin")


def _owned(participant: str) -> Any:
    return select(Dataset.id).where(col(Dataset.owner) == participant)


def _negotiations_of(principal: Principal) -> ColumnElement[bool]:
    me = principal.participant
    return or_(
        and_(col(Negotiation.role) == PROVIDER,
             or_(col(Negotiation.dataset_id).in_(_owned(me)), col(Negotiation.counterparty) == me)),
        and_(col(Negotiation.role) == CONSUMER, col(Negotiation.requested_by) == me))


def _agreements_of(principal: Principal) -> ColumnElement[bool]:
    me = principal.participant
    started = select(Negotiation.id).where(col(Negotiation.requested_by) == me)
    return or_(
        and_(col(Agreement.role) == PROVIDER,
             or_(col(Agreement.dataset_id).in_(_owned(me)), col(Agreement.assignee) == me)),
        and_(col(Agreement.role) == CONSUMER, col(Agreement.negotiation_id).in_(started)))


def owns_dataset(session: Session, principal: Principal, dataset_id: str) -> bool:
    """Whether ``principal`` owns ``dataset_id`` (admins count as owners)."""
    if is_admin(principal):
        return True
    dataset = session.get(Dataset, dataset_id)
    return dataset is not None and dataset.owner == principal.participant


def can_see(session: Session, principal: Principal, neg: Negotiation) -> bool:
    if is_admin(principal):
        return True
    if neg.role == CONSUMER:
        return neg.requested_by == principal.participant
    return (neg.counterparty == principal.participant
            or owns_dataset(session, principal, neg.dataset_id))


def _encode(moment: datetime, ident: str) -> str:
    raw = json.dumps([moment.isoformat(), ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        parsed = datetime.fromisoformat(moment)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise BadRequest("cursor is not one this API handed out") from None
    if not isinstance(ident, str):
        raise BadRequest("cursor is not one this API handed out")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), ident


def _page(session: Session, model: type[T], when: Any, where: list[Any], cursor: str | None,
          limit: int) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    ident = col(model.id)
    if cursor:
        moment, last = _decode(cursor)
        where.append(or_(when < moment, and_(when == moment, ident < last)))
    rows = list(session.exec(select(model).where(*where).order_by(when.desc(), ident.desc())
                             .limit(limit)).all())
    next_cursor = None
    if len(rows) == limit:
        last_row = rows[-1]
        stamp = last_row.created_at if isinstance(last_row, Negotiation) else last_row.signed_at
        next_cursor = _encode(stamp, last_row.id)
    return {"items": rows, "next_cursor": next_cursor}


def list_negotiations(*, session: Session, principal: Principal, cursor: str | None = None,
                      limit: int = 50, role: str | None = None, state: str | None = None,
                      dataset_id: str | None = None) -> dict[str, Any]:
    """A page of the negotiations ``principal`` may see, filtered."""
    where: list[Any] = [] if is_admin(principal) else [_negotiations_of(principal)]
    for column, value in ((Negotiation.role, role), (Negotiation.state, state),
                          (Negotiation.dataset_id, dataset_id)):
        if value is not None:
            where.append(col(column) == value)
    return _page(session, Negotiation, col(Negotiation.created_at), where, cursor, limit)


def get_negotiation(*, session: Session, principal: Principal,
                    negotiation_id: str) -> tuple[Negotiation, list[NegotiationEvent]]:
    """One negotiation and its history (404 if ``principal`` may not see it)."""
    neg = session.get(Negotiation, negotiation_id)
    if neg is None or not can_see(session, principal, neg):
        raise NotFound(f"no negotiation {negotiation_id}")
    events = session.exec(select(NegotiationEvent)
                          .where(col(NegotiationEvent.negotiation_id) == neg.id)
                          .order_by(col(NegotiationEvent.id))).all()
    return neg, list(events)


def list_agreements(*, session: Session, principal: Principal, cursor: str | None = None,
                    limit: int = 50, role: str | None = None,
                    dataset_id: str | None = None) -> dict[str, Any]:
    """A page of the agreements ``principal`` may see, filtered."""
    where: list[Any] = [] if is_admin(principal) else [_agreements_of(principal)]
    for column, value in ((Agreement.role, role), (Agreement.dataset_id, dataset_id)):
        if value is not None:
            where.append(col(column) == value)
    return _page(session, Agreement, col(Agreement.signed_at), where, cursor, limit)


def get_agreement(*, session: Session, principal: Principal, agreement_id: str) -> Agreement:
    """One agreement (404 if ``principal`` may not see it)."""
    where: list[Any] = [col(Agreement.id) == agreement_id]
    if not is_admin(principal):
        where.append(_agreements_of(principal))
    row = session.exec(select(Agreement).where(*where)).first()
    if row is None:
        raise NotFound(f"no agreement {agreement_id}")
    return row
