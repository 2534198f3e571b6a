"""Offers in negotiations: which of our offers a request is about, the shapes messages carry,
and the purpose a consumer declares.

A consumer's ``ContractRequestMessage`` names an offer. It is one of ours when its ``@id`` is
the id of an offer on the target dataset, or when its terms, normalised, equal that offer's
(ids, target, assigner and assignee aside: the TCK, for one, sends offer ids of its own). The
*provider's* offer is what the policy decides on and what an automatic agreement copies.

Purpose: DSP messages have no purpose field. The consumer declares it with the extension
property ``https://w3id.org/dodata/policy#purpose`` (a string) on its ``ContractRequestMessage``;
it is stored on the negotiation and its agreement and goes into every decision as
``context.purpose``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from connector.catalog.models import Offer
from connector.dsp.base import DspModel
from connector.dsp.errors import InvalidMessage
from connector.dsp.odrl import MessageOffer
from connector.errors import UnsupportedPolicy, ValidationFailed
from connector.policy.odrl import DODATA_NS, completed, normalise_policy

PURPOSE = DODATA_NS + "purpose"
MAX_PURPOSE = 100
_IDENTITY_KEYS = ("id", "kind", "target", "assigner", "assignees")
_RULES = ("profile", "permission", "prohibition", "obligation")


def message_offer(raw: Mapping[str, Any], *, target: str, offer_id: str | None = None,
                  assigner: str | None = None) -> dict[str, Any]:
    """``raw`` as the ``offer`` of a DSP message: ``@type`` Offer, a ``target``; checked.

    Raises ``ValidationFailed`` (422) naming what is wrong with it.
    """
    body = {key: value for key, value in raw.items() if key != "@context"}
    if offer_id is not None:
        body["@id"] = offer_id
    body.setdefault("@type", "Offer")
    body.setdefault("target", target)
    if assigner is not None:
        body.setdefault("assigner", assigner)
    try:
        model = MessageOffer.model_validate(body)
    except ValidationError as exc:
        errors = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in exc.errors()]
        raise ValidationFailed("not an ODRL offer DSP can carry", errors=errors) from None
    return as_dict(model)


def as_dict(model: DspModel) -> dict[str, Any]:
    """A nested wire model (offer, agreement) as the JSON it is sent as."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def rules_of(odrl: Mapping[str, Any]) -> dict[str, Any]:
    """The rules of a policy (what an agreement copies from the offer it concludes)."""
    return {key: odrl[key] for key in _RULES if key in odrl}


def policy_of(offer: Offer) -> dict[str, Any]:
    """The normalised policy of one of our offers (raises ``UnsupportedPolicy``)."""
    if offer.normalised:
        return completed(offer.normalised)
    return normalise_policy({"@type": "Offer", **offer.odrl})


def _terms(policy: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in policy.items() if key not in _IDENTITY_KEYS}


def match(session: Session, dataset_id: str, requested: Mapping[str, Any]) -> Offer | None:
    """Our offer on ``dataset_id`` that ``requested`` is (by ``@id``, else by terms), or None."""
    offers = session.exec(select(Offer).where(col(Offer.dataset_id) == dataset_id)
                          .order_by(col(Offer.created_at), col(Offer.id))).all()
    for offer in offers:
        if offer.id == requested.get("@id"):
            return offer
    try:
        wanted = _terms(normalise_policy(requested))
    except UnsupportedPolicy:
        return None
    for offer in offers:
        try:
            if _terms(policy_of(offer)) == wanted:
                return offer
        except UnsupportedPolicy:
            continue
    return None


def purpose_of(message: DspModel) -> str | None:
    """The purpose a message declares (the ``dodata:purpose`` extension), or None."""
    raw = (message.model_extra or {}).get(PURPOSE)
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, dict) and set(raw) <= {"@value", "@type", "@language"}:
        raw = raw.get("@value")
    if raw is None:
        return None
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_PURPOSE:
        raise InvalidMessage(f"{PURPOSE} must be one string of 1 to {MAX_PURPOSE} characters")
    return raw
