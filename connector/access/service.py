"""Opening, listing and deciding access requests; telling owners through their webhooks.

The negotiation side calls :func:`open_request` when an offer needs approval; an owner's decision
calls back into the negotiation through the function registered in :data:`DECIDERS` (so this
module does not import the negotiation service, and the order of imports stays one-way).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from sqlmodel import Session, col, select

from connector.access.models import AccessRequest, Webhook
from connector.audit import log as audit_log
from connector.auth.keys import SigningKey
from connector.delivery.outbox import enqueue
from connector.errors import Conflict, NotFound, ValidationFailed
from connector.policy.odrl_terms import MAX_SAFE_INTEGER
from connector.timeutil import utcnow
from connector.urls import url_problem

#: (session, runtime, access request, narrowed terms) → drives the negotiation on.
Decider = Callable[[Session, Any, AccessRequest, Mapping[str, Any]], None]
DECIDERS: list[Decider] = []
WEBHOOK_TYP = "dodata-webhook+jwt"
NARROWABLE = {"purpose": str, "not_before": str, "not_after": str, "max_count": int}


def _audit(session: Session, request: AccessRequest, kind: str, **extra: Any) -> None:
    audit_log.append(session.connection(), [{
        "type": f"access_request.{kind}", "access_request": request.id,
        "negotiation": request.negotiation_id, "dataset": request.dataset_id,
        "participant": request.requester, "owner": request.owner, **extra}])


def open_request(session: Session, *, negotiation_id: str, dataset_id: str, owner: str,
                 requester: str, purpose: str | None, signing_key: SigningKey,
                 issuer: str) -> AccessRequest:
    """Record a pending request (in the caller's transaction) and queue the owner's webhooks."""
    existing = session.exec(select(AccessRequest).where(
        col(AccessRequest.negotiation_id) == negotiation_id)).first()
    if existing is not None:
        return existing  # the same request delivered twice opens one access request
    request = AccessRequest(id=f"urn:uuid:{uuid.uuid4()}", negotiation_id=negotiation_id,
                            dataset_id=dataset_id, owner=owner, requester=requester,
                            purpose=purpose)
    session.add(request)
    session.flush()
    _audit(session, request, "created", purpose=purpose)
    hooks = session.exec(select(Webhook).where(col(Webhook.owner) == owner,
                                               col(Webhook.disabled).is_(False))).all()
    for hook in hooks:
        event = {"type": "access_request.created", "id": str(uuid.uuid4()),
                 "time": utcnow().isoformat(), "data": request_json(request)}
        signed = jwt.encode({**event, "iss": issuer}, signing_key.private_key,
                            algorithm="EdDSA", headers={"kid": signing_key.kid,
                                                        "typ": WEBHOOK_TYP})
        enqueue(session, url=hook.url, body={"event": event, "jws": signed},
                counterparty=owner, process_kind="webhook", process_id=hook.id,
                retry_for=3600.0)
    return request


def request_json(request: AccessRequest) -> dict[str, Any]:
    """The request as the API and webhooks show it."""
    return {"id": request.id, "negotiation": request.negotiation_id,
            "dataset": request.dataset_id, "owner": request.owner,
            "requester": request.requester, "purpose": request.purpose, "state": request.state,
            "narrowed": request.narrowed, "reason": request.reason,
            "decided_by": request.decided_by,
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
            "created_at": request.created_at.isoformat()}


def list_requests(session: Session, *, owner: str | None, state: str | None,
                  after: str | None, limit: int) -> list[AccessRequest]:
    """Requests of ``owner`` (None: all, for admins), optionally in one state, id-ordered."""
    query = select(AccessRequest).order_by(col(AccessRequest.id)).limit(limit)
    if owner is not None:
        query = query.where(col(AccessRequest.owner) == owner)
    if state is not None:
        query = query.where(col(AccessRequest.state) == state)
    if after is not None:
        query = query.where(col(AccessRequest.id) > after)
    return list(session.exec(query).all())


def _get(session: Session, request_id: str, owner: str | None) -> AccessRequest:
    request = session.get(AccessRequest, request_id, with_for_update=True)
    if request is None or (owner is not None and request.owner != owner):
        raise NotFound(f"no access request {request_id}")
    return request


def _narrowing(body: Mapping[str, Any]) -> dict[str, Any]:
    narrowed: dict[str, Any] = {}
    for key, value in body.items():
        kind = NARROWABLE.get(key)
        if kind is None or not isinstance(value, kind) or isinstance(value, bool):
            raise ValidationFailed(f"cannot narrow {key!r} with {value!r}", errors=[
                {"path": key, "message": f"one of {sorted(NARROWABLE)} with the right type"}])
        narrowed[key] = value
    if "max_count" in narrowed and not 1 <= narrowed["max_count"] <= MAX_SAFE_INTEGER:
        raise ValidationFailed("max_count must be from 1 to 2^53 - 1",
                               errors=[{"path": "max_count", "message": "1 to 2^53 - 1"}])
    return narrowed


def decide(session: Session, *, request_id: str, owner: str | None, actor: str,
           approve: bool, narrowed: Mapping[str, Any] | None = None,
           reason: str | None = None, runtime: Any = None) -> AccessRequest:
    """Approve (optionally narrowing the terms) or reject; drives the negotiation on."""
    request = _get(session, request_id, owner)
    if request.state != "pending":
        if request.state == ("approved" if approve else "rejected"):
            return request  # deciding the same way twice has the effect of once
        raise Conflict(f"access request {request_id} is already {request.state}")
    if not approve and not reason:
        raise ValidationFailed("a rejection needs a reason the requester will receive",
                               errors=[{"path": "reason", "message": "required"}])
    terms = _narrowing(narrowed or {})
    request.state = "approved" if approve else "rejected"
    request.narrowed = terms
    request.reason = reason
    request.decided_by = actor
    request.decided_at = utcnow()
    session.add(request)
    session.flush()
    _audit(session, request, request.state, actor=actor, narrowed=terms, reason=reason)
    for decider in DECIDERS:
        decider(session, runtime, request, terms)
    session.commit()
    return request


def add_webhook(session: Session, *, owner: str, url: str) -> Webhook:
    """Register ``url`` to be told about each new access request for ``owner``'s datasets."""
    problem = url_problem(url)
    if problem:
        raise ValidationFailed(f"url {problem}", errors=[{"path": "url", "message": problem}])
    hook = Webhook(id=f"urn:uuid:{uuid.uuid4()}", owner=owner, url=url)
    session.add(hook)
    session.flush()
    audit_log.append(session.connection(), [{"type": "webhook.created", "webhook": hook.id,
                                             "participant": owner, "url": url}])
    session.commit()
    return hook
