"""The access broker's API: owners list pending requests, approve (narrowing) or reject."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from connector.access import service
from connector.api.deps import RuntimeDep, SessionDep
from connector.api.security import requires
from connector.auth.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["access broker"])
Owner = Annotated[Principal, requires("approvals")]


def _owner(principal: Principal) -> str | None:
    return None if principal.has_role("admin") else principal.participant


@router.get("/access-requests", summary="Access requests for my datasets")
def list_requests(principal: Owner, session: SessionDep,
                  state: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
                  = None, cursor: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    rows = service.list_requests(session, owner=_owner(principal), state=state, after=cursor,
                                 limit=limit)
    return {"items": [service.request_json(r) for r in rows],
            "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.post("/access-requests/{request_id}/approve",
             summary="Approve, optionally narrowing purpose, window (not_before/not_after) "
                     "or number of transfers (max_count)")
def approve(request_id: str, principal: Owner, session: SessionDep, runtime: RuntimeDep,
            body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    request = service.decide(session, request_id=request_id, owner=_owner(principal),
                             actor=principal.participant, approve=True, narrowed=body or {},
                             runtime=runtime)
    return service.request_json(request)


@router.post("/access-requests/{request_id}/reject",
             summary="Reject with a reason the requester receives")
def reject(request_id: str, principal: Owner, session: SessionDep, runtime: RuntimeDep,
           body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    reason = body.get("reason")
    request = service.decide(session, request_id=request_id, owner=_owner(principal),
                             actor=principal.participant, approve=False,
                             reason=reason if isinstance(reason, str) else None,
                             runtime=runtime)
    return service.request_json(request)


@router.post("/webhooks", status_code=201, summary="Be told about new access requests")
def add_webhook(principal: Owner, session: SessionDep,
                body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    hook = service.add_webhook(session, owner=principal.participant, url=str(body.get("url")))
    return {"id": hook.id, "owner": hook.owner, "url": hook.url, "events": hook.events}
