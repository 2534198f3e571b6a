"""Management API of contract negotiations and agreements (both roles).

Provider steps (scope ``offers``, the dataset's owner or an admin): offer first (open a
negotiation), offer, agree, finalize, terminate. Consumer steps (scope ``negotiate``): start a
negotiation on another connector's offer, accept, counter-request, verify, terminate.
``terminate`` serves both roles and needs the scope of ours in that negotiation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, HttpUrl

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.security import Authenticated, requires
from connector.auth.principal import Principal
from connector.negotiation import actions, views
from connector.negotiation.models import Agreement, Negotiation, NegotiationEvent
from connector.negotiation.offers import MAX_PURPOSE

router = APIRouter(prefix="/api/v1", tags=["negotiations"])
Owner = Annotated[Principal, requires("offers")]
Partner = Annotated[Principal, requires("negotiate")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=views.MAX_PAGE)]


class NegotiationOut(BaseModel):
    """A negotiation as this connector sees it; ``role`` is our role in it."""

    id: str
    role: str = Field(description="`provider` or `consumer`: our role.")
    state: str
    provider_pid: str | None
    consumer_pid: str | None
    counterparty: str
    counterparty_address: str | None = Field(description="The other side's DSP base "
                                             "(provider) or callback address (consumer).")
    dataset_id: str
    offer_id: str | None
    offer: dict[str, Any] = Field(description="The offer on the table (ODRL).")
    agreement_id: str | None
    mode: str
    auto_verify: bool
    purpose: str | None
    reason: list[dict[str, Any]] = Field(description="Why it was terminated.")
    requested_by: str | None
    created_at: datetime
    updated_at: datetime


class EventOut(BaseModel):
    from_state: str | None
    to_state: str
    message: str
    sender: str
    at: datetime
    detail: dict[str, Any]


class NegotiationDetail(NegotiationOut):
    events: list[EventOut] = Field(description="The history, oldest first.")


class NegotiationPage(BaseModel):
    items: list[NegotiationOut]
    next_cursor: str | None


class AgreementOut(BaseModel):
    id: str
    role: str
    negotiation_id: str | None
    dataset_id: str
    assigner: str
    assignee: str
    odrl: dict[str, Any]
    normalised: dict[str, Any] = Field(description="The policy as this connector enforces it; "
                                       "`{}` when `unsupported`.")
    unsupported: str | None = Field(description="The term this connector cannot enforce.")
    mode: str
    purpose: str | None
    status: str = Field(description="`pending` (agreed), `active` (finalized) or "
                        "`terminated`.")
    consent_state: str | None = Field(None, description="Personal data: `reduced` when a "
                                      "consent it relied on ended and fewer subjects' rows are "
                                      "served, `lapsed` when none may be and its transfers were "
                                      "terminated.")
    consent_changed_at: datetime | None = None
    signed_at: datetime


class AgreementPage(BaseModel):
    items: list[AgreementOut]
    next_cursor: str | None


class NegotiationIn(BaseModel):
    """Start a negotiation as consumer on another connector's offer."""

    counterparty_address: HttpUrl = Field(description="The provider's DSP base URL, e.g. "
                                          "`https://provider.example/dsp/2025-1`.")
    provider_id: str = Field(min_length=1, max_length=255,
                             description="The provider's participant id.")
    offer: dict[str, Any] | None = Field(None, description="The ODRL offer from the "
                                         "provider's catalog.")
    offer_id: str | None = Field(None, min_length=1, max_length=255)
    dataset_id: str | None = Field(None, min_length=1, max_length=255)
    purpose: str | None = Field(None, min_length=1, max_length=MAX_PURPOSE,
                                description="Declared to the provider with the request.")
    auto_verify: bool = Field(True, description="Verify the provider's agreement at once.")


class FirstOfferIn(BaseModel):
    """Open a negotiation as provider by offering one of our offers to a consumer."""

    offer_id: str = Field(min_length=1, max_length=255, description="One of our offers.")
    consumer_id: str = Field(min_length=1, max_length=255,
                             description="The consumer's participant id (the offer's assignee).")
    counterparty_address: HttpUrl = Field(description="The consumer's DSP callback base, e.g. "
                                          "`https://consumer.example/dsp/2025-1`.")


class OfferIn(BaseModel):
    offer: dict[str, Any] | None = Field(None, description="ODRL offer; unset: the offer "
                                         "already on the table (ours, for a provider).")


class TerminationIn(BaseModel):
    code: str | None = Field(None, max_length=100)
    reason: list[str] = Field(default_factory=list, max_length=20,
                              description="Why; `code: text` strings keep their code.")


def _out(neg: Negotiation) -> NegotiationOut:
    return NegotiationOut.model_validate(neg, from_attributes=True)


def _event(event: NegotiationEvent) -> EventOut:
    return EventOut.model_validate(event, from_attributes=True)


def _agreement(row: Agreement) -> AgreementOut:
    return AgreementOut.model_validate(row, from_attributes=True)


@router.get("/negotiations", summary="Negotiations the caller may see, newest first")
def list_negotiations(session: SessionDep, principal: Authenticated, cursor: Cursor = None,
                      limit: Limit = 50, role: str | None = None, state: str | None = None,
                      dataset_id: str | None = None) -> NegotiationPage:
    page = views.list_negotiations(session=session, principal=principal, cursor=cursor,
                                   limit=limit, role=role, state=state, dataset_id=dataset_id)
    return NegotiationPage(items=[_out(n) for n in page["items"]],
                           next_cursor=page["next_cursor"])


@router.post("/negotiations", status_code=201,
             summary="Consumer: start a negotiation on another connector's offer")
def initiate(body: NegotiationIn, session: SessionDep, runtime: RuntimeDep,
             principal: Partner) -> NegotiationOut:
    return _out(actions.initiate(
        session=session, runtime=runtime, principal=principal,
        counterparty_address=str(body.counterparty_address), provider_id=body.provider_id,
        offer=body.offer, offer_id=body.offer_id, dataset_id=body.dataset_id,
        purpose=body.purpose, auto_verify=body.auto_verify))


@router.post("/negotiations/offers", status_code=201,
             summary="Provider: open a negotiation by offering to a consumer")
def offer_first(body: FirstOfferIn, session: SessionDep, runtime: RuntimeDep,
                principal: Owner) -> NegotiationOut:
    return _out(actions.offer_first(
        session=session, runtime=runtime, principal=principal, offer_id=body.offer_id,
        consumer_id=body.consumer_id, counterparty_address=str(body.counterparty_address)))


@router.get("/negotiations/{negotiation_id}", summary="One negotiation with its history")
def get_negotiation(negotiation_id: str, session: SessionDep,
                    principal: Authenticated) -> NegotiationDetail:
    neg, events = views.get_negotiation(session=session, principal=principal,
                                        negotiation_id=negotiation_id)
    return NegotiationDetail(**_out(neg).model_dump(), events=[_event(e) for e in events])


@router.post("/negotiations/{negotiation_id}/offer", summary="Provider: send an offer")
def offer(negotiation_id: str, session: SessionDep, runtime: RuntimeDep, principal: Owner,
          body: OfferIn | None = None) -> NegotiationOut:
    return _out(actions.offer(session=session, runtime=runtime, principal=principal,
                              negotiation_id=negotiation_id, body=body.offer if body else None))


@router.post("/negotiations/{negotiation_id}/agree",
             summary="Provider: agree on the offer on the table")
def agree(negotiation_id: str, session: SessionDep, runtime: RuntimeDep,
          principal: Owner) -> NegotiationOut:
    return _out(actions.agree(session=session, runtime=runtime, principal=principal,
                              negotiation_id=negotiation_id))


@router.post("/negotiations/{negotiation_id}/finalize",
             summary="Provider: finalize the verified agreement")
def finalize(negotiation_id: str, session: SessionDep, runtime: RuntimeDep,
             principal: Owner) -> NegotiationOut:
    return _out(actions.finalize(session=session, runtime=runtime, principal=principal,
                                 negotiation_id=negotiation_id))


@router.post("/negotiations/{negotiation_id}/accept", summary="Consumer: accept the offer")
def accept(negotiation_id: str, session: SessionDep, runtime: RuntimeDep,
           principal: Partner) -> NegotiationOut:
    return _out(actions.accept(session=session, runtime=runtime, principal=principal,
                               negotiation_id=negotiation_id))


@router.post("/negotiations/{negotiation_id}/request",
             summary="Consumer: counter-request (answer an offer with a request)")
def counter_request(negotiation_id: str, session: SessionDep, runtime: RuntimeDep,
                    principal: Partner, body: OfferIn | None = None) -> NegotiationOut:
    return _out(actions.counter_request(session=session, runtime=runtime, principal=principal,
                                        negotiation_id=negotiation_id,
                                        body=body.offer if body else None))


@router.post("/negotiations/{negotiation_id}/verify", summary="Consumer: verify the agreement")
def verify(negotiation_id: str, session: SessionDep, runtime: RuntimeDep,
           principal: Partner) -> NegotiationOut:
    return _out(actions.verify(session=session, runtime=runtime, principal=principal,
                               negotiation_id=negotiation_id))


@router.post("/negotiations/{negotiation_id}/terminate",
             summary="Either role: terminate (needs the scope of our role: offers or negotiate)")
def terminate(negotiation_id: str, session: SessionDep, runtime: RuntimeDep,
              principal: Authenticated, body: TerminationIn | None = None) -> NegotiationOut:
    body = body or TerminationIn()
    return _out(actions.terminate(session=session, runtime=runtime, principal=principal,
                                  negotiation_id=negotiation_id, code=body.code,
                                  reason=body.reason))


@router.get("/agreements", summary="Agreements the caller may see, newest first")
def list_agreements(session: SessionDep, principal: Authenticated, cursor: Cursor = None,
                    limit: Limit = 50, role: str | None = None,
                    dataset_id: str | None = None) -> AgreementPage:
    page = views.list_agreements(session=session, principal=principal, cursor=cursor,
                                 limit=limit, role=role, dataset_id=dataset_id)
    return AgreementPage(items=[_agreement(a) for a in page["items"]],
                         next_cursor=page["next_cursor"])


@router.get("/agreements/{agreement_id}", summary="One agreement")
def get_agreement(agreement_id: str, session: SessionDep,
                  principal: Authenticated) -> AgreementOut:
    return _agreement(views.get_agreement(session=session, principal=principal,
                                          agreement_id=agreement_id))
