"""Management API: the provider's datasets (``/api/v1/datasets``).

Needs scope ``datasets`` (providers: their own datasets only) or ``admin`` (every dataset).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.security import Authenticated
from connector.auth.principal import Principal
from connector.catalog import datasets
from connector.catalog.schemas import DatasetFields, DatasetIn, DatasetOut, Page
from connector.errors import InsufficientScope

_PROBLEMS = {401: "No valid access token", 403: "Missing scope, or not your dataset",
             404: "No such dataset or offer", 409: "Exists already, or still in use",
             422: "Invalid input (`errors`), or an unsupported ODRL term (`term`)"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for RFC 9457 problems with these statuses."""
    return {status: {"description": _PROBLEMS[status],
                     "content": {"application/problem+json": {}}} for status in statuses}


router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"],
                   responses=problems(401, 403, 404, 409, 422))
PageLimit = Annotated[int, Query(ge=1, le=datasets.MAX_PAGE)]


def scope_or_admin(scope: str) -> Any:
    """A requirement: a valid token holding ``scope`` or ``admin``."""

    def check(principal: Authenticated) -> Principal:
        if scope not in principal.scopes and "admin" not in principal.scopes:
            raise InsufficientScope(f"this request needs scope {scope} (or admin)",
                                    scope=scope)
        return principal

    return Depends(check)


Provider = Annotated[Principal, scope_or_admin("datasets")]


@router.post("", status_code=201, summary="Register a dataset (file, HTTP URL or SQL query)")
def create_dataset(body: DatasetIn, runtime: RuntimeDep, session: SessionDep,
                   principal: Provider) -> DatasetOut:
    return datasets.create_dataset(runtime, session, principal=principal, data=body)


@router.get("", summary="Your datasets, by id (admin: everyone's)")
def list_datasets(session: SessionDep, principal: Provider, cursor: str | None = None,
                  limit: PageLimit = 100, owner: str | None = None) -> Page[DatasetOut]:
    return datasets.list_datasets(session, principal=principal, cursor=cursor, limit=limit,
                                  owner=owner)


@router.get("/{dataset_id:path}", summary="One of your datasets")
def get_dataset(dataset_id: str, session: SessionDep, principal: Provider) -> DatasetOut:
    return datasets.get_dataset(session, principal=principal, dataset_id=dataset_id)


@router.patch("/{dataset_id:path}", summary="Change fields of one of your datasets")
def update_dataset(dataset_id: str, body: DatasetFields, runtime: RuntimeDep,
                   session: SessionDep, principal: Provider) -> DatasetOut:
    return datasets.update_dataset(runtime, session, principal=principal,
                                   dataset_id=dataset_id, changes=body)


@router.delete("/{dataset_id:path}", status_code=204,
               summary="Remove one of your datasets and its offers")
def delete_dataset(dataset_id: str, session: SessionDep, principal: Provider) -> Response:
    datasets.delete_dataset(session, principal=principal, dataset_id=dataset_id)
    return Response(status_code=204)
