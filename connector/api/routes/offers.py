"""Management API: offers on the provider's datasets (``/api/v1/offers``).

Needs scope ``offers`` (providers: offers on their own datasets) or ``admin``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from connector.api.deps import SessionDep
from connector.api.routes.datasets import PageLimit, problems, scope_or_admin
from connector.auth.principal import Principal
from connector.catalog import offers
from connector.catalog.schemas import OfferIn, OfferOut, OfferPatch, Page

router = APIRouter(prefix="/api/v1/offers", tags=["offers"],
                   responses=problems(401, 403, 404, 409, 422))
OfferManager = Annotated[Principal, scope_or_admin("offers")]


@router.post("", status_code=201, summary="Attach an ODRL offer to one of your datasets")
def create_offer(body: OfferIn, session: SessionDep, principal: OfferManager) -> OfferOut:
    return offers.create_offer(session, principal=principal, data=body)


@router.get("", summary="Offers on your datasets, by id (admin: all)")
def list_offers(session: SessionDep, principal: OfferManager, cursor: str | None = None,
                limit: PageLimit = 100, dataset: str | None = None) -> Page[OfferOut]:
    return offers.list_offers(session, principal=principal, cursor=cursor, limit=limit,
                              dataset_id=dataset)


@router.get("/{offer_id:path}", summary="One offer")
def get_offer(offer_id: str, session: SessionDep, principal: OfferManager) -> OfferOut:
    return offers.get_offer(session, principal=principal, offer_id=offer_id)


@router.patch("/{offer_id:path}", summary="Replace an offer's ODRL or change its mode")
def update_offer(offer_id: str, body: OfferPatch, session: SessionDep,
                 principal: OfferManager) -> OfferOut:
    return offers.update_offer(session, principal=principal, offer_id=offer_id, changes=body)


@router.delete("/{offer_id:path}", status_code=204, summary="Remove an offer")
def delete_offer(offer_id: str, session: SessionDep, principal: OfferManager) -> Response:
    offers.delete_offer(session, principal=principal, offer_id=offer_id)
    return Response(status_code=204)
