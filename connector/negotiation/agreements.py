"""Contract agreements: the ODRL ``Agreement`` a provider makes, and the row both ends keep.

An agreement row is written when the negotiation reaches AGREED, with ``status``:

* ``pending`` — agreed, not yet finalized (no transfer may run under it yet);
* ``active`` — the negotiation is FINALIZED;
* ``terminated`` — the negotiation was terminated after the agreement was made.

``normalised`` is the policy as ``connector.policy.odrl`` reads it. An agreement that uses terms
this connector cannot enforce (only a counterparty's can) is still stored, with
``normalised={}`` and ``unsupported`` saying which term and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from connector.dsp.odrl import Agreement as OdrlAgreement
from connector.errors import UnsupportedPolicy, ValidationFailed
from connector.negotiation.models import Agreement, Negotiation
from connector.negotiation.offers import as_dict, rules_of
from connector.negotiation.process import new_pid
from connector.policy.odrl import normalise_policy
from connector.timeutil import utcnow

PENDING, ACTIVE, TERMINATED = "pending", "active", "terminated"


def build(neg: Negotiation, rules_from: Mapping[str, Any], *, assigner: str) -> dict[str, Any]:
    """A new ODRL Agreement for ``neg``: fresh ``urn:uuid`` id, the dataset as target, us as
    assigner, the counterparty as assignee, now as timestamp, the rules of ``rules_from``."""
    now = utcnow()
    body = {"@id": new_pid(), "@type": "Agreement", "target": neg.dataset_id,
            "assigner": assigner, "assignee": neg.counterparty,
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **rules_of(rules_from)}
    try:
        return as_dict(OdrlAgreement.model_validate(body))
    except ValidationError as exc:
        errors = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in exc.errors()]
        raise ValidationFailed("the offer's rules do not make a valid agreement",
                               errors=errors) from None


def record(session: Session, neg: Negotiation, odrl: Mapping[str, Any]) -> Agreement:
    """Store ``odrl`` as the (pending) agreement of ``neg`` and link it to the negotiation."""
    unsupported: str | None = None
    try:
        normalised = normalise_policy(odrl)
    except UnsupportedPolicy as exc:
        normalised = {}
        unsupported = f"{exc.extra.get('term')}: {exc.detail}"[:500]
    row = Agreement(id=str(odrl["@id"]), role=neg.role, negotiation_id=neg.id,
                    dataset_id=neg.dataset_id, assigner=str(odrl["assigner"]),
                    assignee=str(odrl["assignee"]), odrl=dict(odrl), normalised=normalised,
                    mode=neg.mode, purpose=neg.purpose, status=PENDING, unsupported=unsupported,
                    signed_at=utcnow())
    session.add(row)
    neg.agreement_id = row.id
    session.add(neg)
    return row


def mark(session: Session, neg: Negotiation, status: str) -> None:
    """Set the status of ``neg``'s agreement, if it has one (terminated stays terminated)."""
    if neg.agreement_id is None:
        return
    row = session.get(Agreement, neg.agreement_id)
    if row is not None and row.status != TERMINATED:
        row.status = status
        session.add(row)
