"""Management API, consumer side: another connector's catalog (``POST /api/v1/remote/catalog``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from connector.api.deps import RuntimeDep
from connector.api.routes.datasets import problems
from connector.api.security import requires
from connector.auth.principal import Principal
from connector.catalog.remote import RemoteCatalogIn, RemoteCatalogOut, request_catalog

router = APIRouter(prefix="/api/v1/remote", tags=["consumer"],
                   responses=problems(401, 403, 422))


@router.post("/catalog", summary="Request another connector's catalog over DSP",
             responses={502: {"description": "The counterparty failed or answered no Catalog "
                                             "(problem+json with `counterparty_status`, "
                                             "`counterparty_reason`)",
                              "content": {"application/problem+json": {}}}})
def remote_catalog(body: RemoteCatalogIn, runtime: RuntimeDep,
                   _: Annotated[Principal, requires("catalog")]) -> RemoteCatalogOut:
    return request_catalog(runtime, request=body)
