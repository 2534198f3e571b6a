"""DSP 2025-1 catalog protocol (provider side) and the version document.

* ``GET /.well-known/dspace-version`` — public; any ``Authorization`` header is ignored.
* ``POST /dsp/2025-1/catalog/request`` — a ``CatalogRequestMessage``; answers a ``Catalog``
  page. Paging: ``?limit=`` (default 50, at most 500) and the ``cursor`` of the ``Link``
  header's ``next``/``previous`` URLs: POST the same message there. Filter: see
  ``connector/catalog/filters.py``.
* ``GET /dsp/2025-1/catalog/datasets/{id}`` — a ``Dataset``; unknown and invisible datasets
  are both 404 ``CatalogError``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from connector.api.deps import RuntimeDep
from connector.api.dsp import CounterpartyDep
from connector.api.security import PUBLIC
from connector.catalog import service
from connector.catalog.dcat import DSP_PATH
from connector.dsp import dump_message, parse_message
from connector.dsp.messages import (
    WELL_KNOWN_VERSION_PATH,
    CatalogRequestMessage,
    ProtocolVersion,
    VersionResponse,
)

version_router = APIRouter(tags=["dsp"])
_CATALOG_ERROR = {"description": "CatalogError (`code`, `reason`)",
                  "content": {"application/json": {}}}
router = APIRouter(prefix=DSP_PATH + "/catalog", tags=["dsp"],
                   responses={400: _CATALOG_ERROR, 401: _CATALOG_ERROR, 404: _CATALOG_ERROR})


@version_router.get(WELL_KNOWN_VERSION_PATH, dependencies=[PUBLIC],
                    summary="DSP versions this connector speaks (unauthenticated)")
def dspace_version() -> dict[str, Any]:
    return dump_message(VersionResponse(protocol_versions=[
        ProtocolVersion(version="2025-1", path=DSP_PATH, binding="HTTPS")]))


def _link(runtime: RuntimeDep, cursor: str, limit: int, rel: str) -> str:
    query = {"cursor": cursor, **({"limit": limit} if limit != service.DEFAULT_PAGE else {})}
    url = f"{runtime.settings.public_url}{DSP_PATH}/catalog/request?{urlencode(query)}"
    return f'<{url}>; rel="{rel}"'


@router.post("/request", summary="Catalog request (one page of the datasets you may see)")
def catalog_request(body: Annotated[dict[str, Any] | list[Any], Body()],
                    counterparty: CounterpartyDep,
                    runtime: RuntimeDep, cursor: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = service.DEFAULT_PAGE,
                    ) -> JSONResponse:
    message = parse_message(body, CatalogRequestMessage)
    page = service.catalog_page(runtime, participant=counterparty.participant,
                                filter=message.filter, cursor=cursor, limit=limit)
    links = [_link(runtime, c, limit, rel) for c, rel in
             ((page.previous_cursor, "previous"), (page.next_cursor, "next")) if c]
    return JSONResponse(page.document, headers={"Link": ", ".join(links)} if links else None)


@router.get("/datasets/{dataset_id:path}", summary="One dataset with the offers you may see")
def get_dataset(dataset_id: str, counterparty: CounterpartyDep,
                runtime: RuntimeDep) -> dict[str, Any]:
    return service.dataset_document(runtime, participant=counterparty.participant,
                                    dataset_id=dataset_id)
