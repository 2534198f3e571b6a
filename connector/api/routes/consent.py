"""The consent API: data subjects give, read and withdraw their own consent; providers import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.security import PUBLIC, requires
from connector.auth.principal import Principal
from connector.consent import enforce as enforce  # registers what a withdrawal ends
from connector.consent import service
from connector.consent.dpv import to_jsonld
from connector.consent.receipts import issue_receipt

router = APIRouter(tags=["consent"])
Subject = Annotated[Principal, requires("consent")]
Provider = Annotated[Principal, requires("datasets")]


def _with_receipt(runtime: Any, item: service.ConsentView, event: str, actor: str,
                  status: int = 200) -> JSONResponse:
    receipt = issue_receipt(runtime.keys.current("receipt"),
                            issuer=runtime.settings.effective_issuer,
                            record=service.record_json(item.record), event=event,
                            at=item.events[-1].at if item.events else item.at, actor=actor)
    return JSONResponse({"consent": item.as_json(), "receipt": receipt}, status_code=status)


@router.post("/api/v1/consents", status_code=201, summary="Give consent (data subject)")
def give(principal: Subject, session: SessionDep, runtime: RuntimeDep,
         body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    item = service.give(session, data_subject=principal.participant,
                        controller=runtime.settings.participant_id, body=body)
    return _with_receipt(runtime, item, "given", principal.participant, status=201)


@router.get("/api/v1/consents", summary="My consent records")
def mine(principal: Subject, session: SessionDep) -> dict[str, Any]:
    return {"items": [v.as_json() for v in service.list_for(
        session, data_subject=principal.participant)]}


@router.get("/api/v1/consents/{record_id}", summary="One of my consent records",
            responses={200: {"content": {"application/ld+json": {}}}})
def one(record_id: str, principal: Subject, session: SessionDep,
        format: str = "json") -> Any:
    item = service.view(session, record_id, data_subject=principal.participant)
    if format == "jsonld":
        return JSONResponse(to_jsonld(item), media_type="application/ld+json")
    return item.as_json()


@router.post("/api/v1/consents/{record_id}/withdraw", summary="Withdraw consent, at once")
def withdraw(record_id: str, principal: Subject, session: SessionDep,
             runtime: RuntimeDep) -> JSONResponse:
    item = service.withdraw(session, record_id=record_id, data_subject=principal.participant,
                            actor=principal.participant, runtime=runtime)
    return _with_receipt(runtime, item, "withdrawn", principal.participant)


@router.post("/api/v1/consents/import", status_code=201,
             summary="Import a consent record collected elsewhere (provider)")
def import_record(principal: Provider, session: SessionDep, runtime: RuntimeDep,
                  body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    item = service.import_record(session, actor=principal.participant,
                                 controller=principal.participant, body=body)
    return _with_receipt(runtime, item, "given", principal.participant, status=201)


@router.get("/consent/jwks", dependencies=[PUBLIC], summary="Keys that sign consent receipts")
def receipt_jwks(runtime: RuntimeDep) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in runtime.keys.all("receipt")]}
