"""The management API's view of transfers: who sees which, the list, and the owner's actions.

A transfer is managed by its ``owner``: the dataset's owner (scope ``offers``) when we provide,
the participant who asked for it (scope ``transfer``) when we consume; an admin (scope
``admin``) manages every transfer. Anyone else gets 404, exactly as for a transfer that does
not exist. Actions send the matching DSP message:
``start`` (provider: REQUESTED → STARTED, asking the policy first), ``resume`` (either side:
SUSPENDED → STARTED), ``suspend``, ``complete``, ``terminate``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from connector.auth.principal import Principal
from connector.errors import (
    BadRequest,
    Conflict,
    IllegalTransition,
    InsufficientScope,
    NotFound,
    PolicyDenied,
)
from connector.runtime import Runtime
from connector.transfer import provider
from connector.transfer.machine import CONSUMER, PROVIDER, Message, State, move
from connector.transfer.models import Transfer
from connector.transfer.service import advance, find, pids, send

ACTIONS: Mapping[str, Message] = {"start": Message.START, "resume": Message.START,
                                  "suspend": Message.SUSPENSION,
                                  "complete": Message.COMPLETION,
                                  "terminate": Message.TERMINATION}
SCOPE_OF_ROLE = {PROVIDER: "offers", CONSUMER: "transfer"}
MAX_PAGE = 200


def _admin(principal: Principal) -> bool:
    return "admin" in principal.scopes


def _roles_of(principal: Principal) -> list[str]:
    if _admin(principal):
        return list(SCOPE_OF_ROLE)
    roles = [role for role, scope in SCOPE_OF_ROLE.items() if scope in principal.scopes]
    if not roles:
        raise InsufficientScope("transfers need scope transfer (consumer) or offers "
                                "(provider)", scope="transfer offers")
    return roles


def visible(session: Session, principal: Principal, transfer_id: str, *,
            lock: bool = False) -> Transfer:
    """The transfer if ``principal`` manages it; 404 otherwise."""
    transfer = find(session, transfer_id, lock=lock)
    if transfer is None or not (transfer.owner == principal.participant or _admin(principal)):
        raise NotFound(f"no transfer {transfer_id}")
    if SCOPE_OF_ROLE[transfer.role] not in principal.scopes and not _admin(principal):
        scope = SCOPE_OF_ROLE[transfer.role]
        raise InsufficientScope(f"a {transfer.role}-side transfer needs scope {scope}",
                                scope=scope)
    return transfer


def _cursor(transfer: Transfer) -> str:
    created = transfer.created_at if transfer.created_at.tzinfo else \
        transfer.created_at.replace(tzinfo=UTC)
    return base64.urlsafe_b64encode(f"{created.isoformat()}|{transfer.id}".encode()).decode()


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, _, last = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        moment = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("cursor is not one this API handed out") from None
    if not last or moment.tzinfo is None:
        raise BadRequest("cursor is not one this API handed out")
    return moment, last


def page(session: Session, principal: Principal, *, cursor: str | None, limit: int,
         role: str | None = None, state: str | None = None, agreement_id: str | None = None,
         dataset_id: str | None = None) -> tuple[Sequence[Transfer], str | None]:
    """The principal's transfers, newest first, and the cursor of the next page."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    roles = [r for r in _roles_of(principal) if role is None or r == role]
    query = select(Transfer).where(col(Transfer.role).in_(roles or ["-"]))
    if not _admin(principal):
        query = query.where(col(Transfer.owner) == principal.participant)
    for column, value in ((Transfer.state, state), (Transfer.agreement_id, agreement_id),
                          (Transfer.dataset_id, dataset_id)):
        if value is not None:
            query = query.where(col(column) == value)
    if cursor:
        moment, last = _after(cursor)
        query = query.where(or_(col(Transfer.created_at) < moment,
                                and_(col(Transfer.created_at) == moment,
                                     col(Transfer.id) < last)))
    rows = session.exec(query.order_by(col(Transfer.created_at).desc(), col(Transfer.id).desc())
                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor(rows[-1]) if more and rows else None)


def act(runtime: Runtime, session: Session, *, principal: Principal, transfer_id: str,
        action: str, code: str | None = None, reason: str | None = None) -> Transfer:
    """Perform the owner's ``action`` and tell the other side; commit. Repeats do nothing."""
    message = ACTIONS.get(action)
    if message is None:
        raise NotFound(f"no action {action!r}; actions are {', '.join(ACTIONS)}")
    transfer = visible(session, principal, transfer_id, lock=True)
    prior = State(transfer.state)
    if action == "resume" and prior not in (State.SUSPENDED, State.STARTED):
        raise IllegalTransition(f"only a SUSPENDED transfer can be resumed, not a {prior} one",
                                state=prior.value, **pids(transfer))
    step = move(prior, message, transfer.role)  # illegal: raises before anything is written
    if not step.changed:
        return transfer
    if transfer.role == CONSUMER and not transfer.provider_pid:
        raise Conflict("the provider has not answered the transfer request yet; try again "
                       "in a moment", **pids(transfer))
    reasons = [{"code": code or action, "message": reason}] if reason else None
    if transfer.role == PROVIDER and message is Message.START:
        agreement, dataset = provider.terms(session, transfer, lock=True)
        decision = provider.check_policy(runtime, session, transfer, agreement, dataset)
        if not decision.allow:
            session.commit()  # the decision's audit entry stays; the transfer does not move
            raise PolicyDenied("the usage policy does not allow this transfer now",
                               reasons=[r.as_dict() for r in decision.reasons],
                               decision_id=decision.decision_id)
        provider.start(runtime, session, transfer, audit={"decision_id": decision.decision_id})
    else:
        advance(session, transfer, message, transfer.role, reason=reasons)
        send(runtime, session, transfer, message, code=code, reason=reasons)
    session.commit()
    return transfer
