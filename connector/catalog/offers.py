"""Offers on datasets (the provider's management API): ODRL checked twice, stored once.

An offer must be understood by ``policy.odrl.normalise_policy`` (else 422
``unsupported-policy`` naming the term) *and* be a valid DSP 2025-1 catalog ``Offer`` (else
422 ``validation-failed``): what the policy engine enforces is exactly what the catalog shows.
It is stored without ``@context`` and ``target`` (the dataset is the target), with its own
``@id``. Every change commits with its audit entry (``offer.created|updated|deleted``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connector.audit import log as audit_log
from connector.auth.principal import Principal
from connector.catalog import cursor as cursors
from connector.catalog.datasets import check_identifier, is_admin, owned
from connector.catalog.models import Dataset, Offer, policy_key
from connector.catalog.schemas import OfferIn, OfferOut, OfferPatch, Page
from connector.dsp.odrl import Offer as CatalogOffer
from connector.errors import Conflict, NotFound, UnsupportedPolicy, ValidationFailed
from connector.policy.odrl import normalise_policy

_NOT_STORED = ("@context", "target", "uid")


def _invalid(message: str, path: str = "odrl") -> ValidationFailed:
    return ValidationFailed(message, errors=[{"path": path, "message": message,
                                              "kind": "offer"}])


def prepare(odrl: Mapping[str, Any], *, dataset_id: str,
            offer_id: str | None = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(id, stored ODRL, normalised policy)`` of an offer on ``dataset_id``, or raise."""
    odrl = {"@type": "Offer", **odrl}
    normalised = normalise_policy(odrl)
    if normalised["kind"] != "offer":
        raise UnsupportedPolicy("an offer must have @type Offer", term="@type")
    if normalised["target"] not in (None, dataset_id):
        raise _invalid(f"the offer's target {normalised['target']!r} is not the dataset "
                       f"{dataset_id!r}", "odrl.target")
    given = normalised["id"]
    if offer_id is not None and given is not None and given != offer_id:
        raise _invalid(f"the offer's @id {given!r} is not {offer_id!r}", "odrl.@id")
    ident = offer_id or given or f"urn:uuid:{uuid.uuid4()}"
    check_identifier(ident, "odrl.@id")
    stored = {k: v for k, v in odrl.items() if k not in _NOT_STORED}
    stored.update({"@id": ident, "@type": "Offer"})
    try:
        CatalogOffer.model_validate(stored)
    except ValidationError as error:
        errors = [{"path": "odrl." + ".".join(str(p) for p in e["loc"]), "message": e["msg"],
                   "kind": e["type"]} for e in error.errors()]
        raise ValidationFailed("the offer is not a DSP 2025-1 catalog Offer",
                               errors=errors) from None
    return ident, stored, normalise_policy(stored)


def to_out(offer: Offer) -> OfferOut:
    """The offer as the management API shows it."""
    return OfferOut(id=offer.id, dataset_id=offer.dataset_id, odrl=offer.odrl,
                    normalised=offer.normalised, policy_hash=offer.policy_hash,
                    mode=offer.mode, created_at=offer.created_at)


def _event(kind: str, offer: Offer, dataset: Dataset, principal: Principal,
           **extra: Any) -> dict[str, Any]:
    return {"type": f"offer.{kind}", "offer": offer.id, "dataset": dataset.id,
            "owner": dataset.owner, "participant": principal.participant,
            "client_id": principal.client_id, "policy_hash": offer.policy_hash,
            "mode": offer.mode, **extra}


def owned_offer(session: Session, principal: Principal, offer_id: str) -> tuple[Offer, Dataset]:
    """The offer and its dataset, if ``principal`` may manage the dataset."""
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"no offer {offer_id!r}")
    return offer, owned(session, principal, offer.dataset_id)


def create_offer(session: Session, *, principal: Principal, data: OfferIn) -> OfferOut:
    """Attach an offer to one of the caller's datasets."""
    dataset = owned(session, principal, data.dataset_id)
    ident, stored, normalised = prepare(data.odrl, dataset_id=dataset.id)
    if session.get(Offer, ident) is not None:
        raise Conflict(f"offer {ident!r} exists")
    offer = Offer(id=ident, dataset_id=dataset.id, odrl=stored, normalised=normalised,
                  policy_hash=policy_key(normalised), mode=data.mode)
    session.add(offer)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"offer {ident!r} exists") from None
    audit_log.append(session.connection(), [_event("created", offer, dataset, principal)])
    session.commit()
    return to_out(offer)


def update_offer(session: Session, *, principal: Principal, offer_id: str,
                 changes: OfferPatch) -> OfferOut:
    """Replace an offer's ODRL and/or change its mode (its id stays)."""
    offer, dataset = owned_offer(session, principal, offer_id)
    fields: list[str] = []
    if changes.odrl is not None:
        _, stored, normalised = prepare(changes.odrl, dataset_id=dataset.id, offer_id=offer.id)
        if stored != offer.odrl:
            offer.odrl, offer.normalised = stored, normalised
            offer.policy_hash = policy_key(normalised)
            fields.append("odrl")
    if changes.mode is not None and changes.mode != offer.mode:
        offer.mode = changes.mode
        fields.append("mode")
    if fields:
        session.add(offer)
        session.flush()
        audit_log.append(session.connection(), [_event("updated", offer, dataset, principal,
                                                       fields=fields)])
        session.commit()
    return to_out(offer)


def delete_offer(session: Session, *, principal: Principal, offer_id: str) -> None:
    """Remove an offer (agreements made under it keep their own copy of the policy)."""
    offer, dataset = owned_offer(session, principal, offer_id)
    event = _event("deleted", offer, dataset, principal)
    session.delete(offer)
    session.flush()
    audit_log.append(session.connection(), [event])
    session.commit()


def get_offer(session: Session, *, principal: Principal, offer_id: str) -> OfferOut:
    """One offer on one of the caller's datasets."""
    return to_out(owned_offer(session, principal, offer_id)[0])


def list_offers(session: Session, *, principal: Principal, cursor: str | None, limit: int,
                dataset_id: str | None = None) -> Page[OfferOut]:
    """Offers on the caller's datasets (an admin's: all), optionally of one dataset, by id."""
    position = cursors.decode(cursor)
    query = select(Offer)
    if dataset_id is not None:
        owned(session, principal, dataset_id)
        query = query.where(col(Offer.dataset_id) == dataset_id)
    elif not is_admin(principal):
        query = query.join(Dataset, col(Dataset.id) == col(Offer.dataset_id)).where(
            col(Dataset.owner) == principal.participant)
    if position is not None:
        query = query.where(col(Offer.id) > position.key)
    rows = session.exec(query.order_by(col(Offer.id)).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[OfferOut](items=[to_out(o) for o in rows],
                          next_cursor=cursors.encode("after", rows[-1].id)
                          if more and rows else None)
