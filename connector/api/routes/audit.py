"""The auditor's API: signed checkpoint and key (public); entries, proofs, search, export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from connector.api.deps import RuntimeDep
from connector.api.security import PUBLIC, requires
from connector.audit import service
from connector.audit.signer import verifier_key
from connector.auth.principal import Principal

router = APIRouter(prefix="/audit", tags=["audit"])
Auditor = Annotated[Principal, requires("audit")]


@router.get("/checkpoint", dependencies=[PUBLIC], response_class=PlainTextResponse,
            summary="Latest signed checkpoint (C2SP tlog-checkpoint in a signed note)")
def checkpoint(runtime: RuntimeDep) -> PlainTextResponse:
    return PlainTextResponse(service.latest_note(runtime))


@router.get("/key", dependencies=[PUBLIC], response_class=PlainTextResponse,
            summary="Verifier key of the checkpoints, C2SP vkey form name+keyid+base64")
def key(runtime: RuntimeDep) -> PlainTextResponse:
    return PlainTextResponse(verifier_key(runtime.settings.audit_origin,
                                          runtime.audit_key.private_key) + "\n")


@router.get("/entries/{index}", summary="One entry, exactly the bytes its leaf hash covers")
def entry(index: int, runtime: RuntimeDep, _: Auditor) -> Response:
    return Response(service.entry(runtime.engine, index), media_type="application/json")


@router.get("/proof/inclusion", summary="RFC 9162 inclusion proof")
def inclusion(runtime: RuntimeDep, _: Auditor, index: Annotated[int, Query(ge=0)],
              size: Annotated[int, Query(ge=1)]) -> dict[str, Any]:
    return service.inclusion(runtime.engine, index=index, size=size)


@router.get("/proof/consistency", summary="RFC 9162 consistency proof")
def consistency(runtime: RuntimeDep, _: Auditor, first: Annotated[int, Query(ge=1)],
                second: Annotated[int, Query(ge=1)]) -> dict[str, Any]:
    return service.consistency(runtime.engine, first=first, second=second)


@router.get("/entries", summary="Search entries by time, type, participant and dataset")
def search(runtime: RuntimeDep, _: Auditor,
           from_: Annotated[datetime | None, Query(alias="from")] = None,
           to: datetime | None = None,
           type: Annotated[list[str] | None, Query()] = None,
           participant: str | None = None, dataset: str | None = None,
           cursor: str | None = None,
           limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100) -> dict[str, Any]:
    return service.search(runtime.engine, cursor=cursor, limit=limit, types=type or [],
                          participant=participant, dataset=dataset, time_from=from_,
                          time_to=to)


@router.get("/export", summary="The first N entries as stored, one per line, streamed",
            response_class=StreamingResponse)
def export(runtime: RuntimeDep, _: Auditor,
           size: Annotated[int | None, Query(ge=0)] = None) -> StreamingResponse:
    n = service.export_size(runtime, size)
    return StreamingResponse(service.export(runtime.engine, n),
                             media_type="application/x-ndjson",
                             headers={"X-Audit-Size": str(n)})
