"""Dry runs: how would the policy engine decide this offer for this (hypothetical) requester?

Nothing here is acted on, so nothing is recorded as a decision: no ``policy.decision`` audit
entry, no decision metric. The engine is the one in force (OPA or embedded), the input is
built exactly as for real decisions (``policy.input.build_input``), except that the requester's
attributes come from the request instead of the participant registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session

from connector.auth.principal import Principal
from connector.catalog.datasets import owned
from connector.catalog.models import Dataset
from connector.catalog.offers import owned_offer
from connector.decisions import resource_of
from connector.errors import ValidationFailed
from connector.policy.input import build_input
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime

DRY_RUN_DATASET = "urn:dodata:dry-run"


class Consent(BaseModel):
    """A consent record as the decision input carries it (times: RFC 3339)."""

    model_config = ConfigDict(extra="forbid")
    subject: str | None = None
    recipient: str | None = None
    purpose: str | None = None
    dataset: str | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None


class Approval(BaseModel):
    """The owner's approval of a request."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["none", "pending", "approved", "rejected"] = "none"
    participant: str | None = None
    dataset: str | None = None


class Requester(BaseModel):
    """Who asks, for what, and in which situation."""

    model_config = ConfigDict(extra="forbid")
    participant: str = Field(min_length=1, max_length=255)
    org_type: str | None = Field(None, description="research, company or public-body")
    region: str | None = Field(None, description="e.g. DE-NW, DE, FR")
    roles: list[str] = Field(default_factory=lambda: ["partner"])
    action: Literal["catalog", "negotiate", "transfer"] = "negotiate"
    purpose: str | None = None
    now: datetime | None = Field(None, description="When; unset means now.")
    usage_count: int = Field(0, ge=0, description="Transfers already made under the agreement.")
    consents: list[Consent] = Field(default_factory=list)
    approval: Approval | None = None


class EvaluateIn(BaseModel):
    """A stored offer (``offer_id``) or an ODRL offer (``offer``), and a requester."""

    model_config = ConfigDict(extra="forbid")
    offer_id: str | None = None
    offer: dict[str, Any] | None = Field(None, description="ODRL Offer or Agreement.")
    dataset_id: str | None = Field(None, description="With `offer`: take owner and personal "
                                   "data flag from this dataset of yours.")
    personal_data: bool = Field(False, description="With `offer` and no dataset: whether the "
                                "hypothetical dataset is personal data.")
    data_subject: str | None = None
    requester: Requester

    @model_validator(mode="after")
    def _one_offer(self) -> EvaluateIn:
        if (self.offer_id is None) == (self.offer is None):
            raise ValueError("give exactly one of offer_id and offer")
        return self


class Reason(BaseModel):
    code: str
    message: str


class EvaluateOut(BaseModel):
    """The decision as the engine gave it, the policy it read, and the whole input."""

    allow: bool
    reasons: list[Reason]
    obligations: list[dict[str, Any]]
    engine: str
    policy_revision: str | None
    decision_id: str | None
    policy: dict[str, Any] = Field(description="The normalised policy (policy/odrl.py).")
    input: dict[str, Any] = Field(description="The decision input (policy/input.py).")


def evaluate(runtime: Runtime, session: Session, *, principal: Principal,
             request: EvaluateIn) -> EvaluateOut:
    """The full decision (allow, reasons, obligations), the normalised policy and the input."""
    dataset: Dataset | None = None
    if request.offer_id is not None:
        stored, dataset = owned_offer(session, principal, request.offer_id)
        policy = dict(stored.normalised)
    else:
        assert request.offer is not None
        policy = normalise_policy(request.offer)
        if request.dataset_id is not None:
            dataset = owned(session, principal, request.dataset_id)
    resource = resource_of(dataset, data_subject=request.data_subject) if dataset else {
        "dataset": DRY_RUN_DATASET, "owner": principal.participant,
        "personal_data": request.personal_data, "data_subject": request.data_subject}
    who = request.requester
    try:
        input_doc = build_input(
            action=who.action, policy=policy, resource=resource,
            subject={"participant": who.participant, "roles": who.roles,
                     "org_type": who.org_type, "region": who.region},
            context={"now": who.now, "purpose": who.purpose, "usage_count": who.usage_count,
                     "consents": [c.model_dump() for c in who.consents],
                     "approval": who.approval.model_dump() if who.approval else None})
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"path": "requester", "message": str(exc),
                                                  "kind": "input"}]) from None
    decision = runtime.policy.decide(input_doc)
    return EvaluateOut(allow=decision.allow,
                       reasons=[Reason(**r.as_dict()) for r in decision.reasons],
                       obligations=[dict(o) for o in decision.obligations],
                       engine=decision.engine, policy_revision=decision.revision,
                       decision_id=decision.decision_id, policy=input_doc["policy"],
                       input=input_doc)
