"""Which offers a requester may see: one ``catalog`` decision per distinct policy, audited once.

The ``catalog`` decision reads the requester and the policy only (who may see an offer:
recipient, organisation type, region), never the rest of the dataset. So offers that share a
normalised policy (``Offer.policy_hash``) share the answer, and a catalog request over 10,000
datasets under a handful of policies asks the engine a handful of times. Each decision is
recorded as one ``policy.decision`` audit entry naming the policy hash (not one entry per
dataset). The dataset in the decision input is the one with the lowest id under that policy.

The distinct hashes are found with a loose index scan (a recursive query that jumps from one
hash to the next in ``ix_offer_policy_hash``): its cost grows with the number of policies,
not of offers. An offer without a hash (written around the ORM) is never visible.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text, tuple_
from sqlalchemy.orm import load_only
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from connector.audit import log as audit_log
from connector.catalog.models import Dataset, Offer
from connector.decisions import resource_of, subject_of
from connector.observability import request_id_var
from connector.policy.input import build_input
from connector.runtime import Runtime
from connector.timeutil import utcnow

# Each distinct policy hash with the lowest dataset id under it, one index seek per step.
_POLICIES = text("""
WITH RECURSIVE hashes(h) AS (
    SELECT (SELECT min(policy_hash) FROM offer WHERE policy_hash > '')
    UNION ALL
    SELECT (SELECT min(o.policy_hash) FROM offer o WHERE o.policy_hash > hashes.h)
    FROM hashes WHERE hashes.h IS NOT NULL)
SELECT h AS policy_hash,
       (SELECT min(o.dataset_id) FROM offer o WHERE o.policy_hash = hashes.h) AS dataset_id
FROM hashes WHERE h IS NOT NULL
""")
# What a decision reads of the representative offer and its dataset (``resource_of``).
_OFFER_COLUMNS = load_only(*(getattr(Offer, name) for name in ("id", "dataset_id", "policy_hash",
                                                                "normalised")))
_DATASET_COLUMNS = load_only(*(getattr(Dataset, name) for name in ("id", "owner",
                                                                    "personal_data")))
_POLICIES_OF_DATASET = text("""
SELECT policy_hash, min(dataset_id) AS dataset_id FROM offer
WHERE dataset_id = :dataset AND policy_hash > '' GROUP BY policy_hash
""")


def visible_policies(runtime: Runtime, conn: Connection, *, participant: str,
                     dataset_id: str | None = None) -> frozenset[str]:
    """The policy hashes ``participant`` may see (of ``dataset_id``'s offers, if given).

    Reads through ``conn``; the audit entries commit in a short transaction of their own.
    """
    rows = conn.execute(_POLICIES if dataset_id is None else _POLICIES_OF_DATASET,
                        {} if dataset_id is None else {"dataset": dataset_id}).all()
    if not rows:
        return frozenset()
    wanted = {(row.policy_hash, row.dataset_id) for row in rows}
    with Session(bind=conn) as session:
        offers = session.exec(orm_select(Offer).options(_OFFER_COLUMNS).where(
            tuple_(col(Offer.policy_hash), col(Offer.dataset_id)).in_(sorted(wanted)))
            .order_by(col(Offer.id))).all()
        datasets = {d.id: d for d in session.exec(orm_select(Dataset).options(
            _DATASET_COLUMNS).where(col(Dataset.id).in_({ds for _, ds in wanted})))}
    representatives: dict[str, tuple[Offer, Dataset]] = {}
    for offer in offers:
        representatives.setdefault(offer.policy_hash, (offer, datasets[offer.dataset_id]))
    subject = subject_of(conn, participant)
    now = utcnow()
    allowed: set[str] = set()
    events: list[dict[str, Any]] = []
    request = request_id_var.get()
    for policy_hash, (offer, dataset) in sorted(representatives.items()):
        decision = runtime.decide("catalog", build_input(
            action="catalog", subject=subject, resource=resource_of(dataset),
            policy=offer.normalised, context={"now": now}))
        if decision.allow:
            allowed.add(policy_hash)
        events.append({
            "type": "policy.decision", "action": "catalog", "participant": participant,
            "policy_hash": policy_hash, "allow": decision.allow,
            "reasons": [r.as_dict() for r in decision.reasons],
            "obligations": [dict(o) for o in decision.obligations],
            "decision_id": decision.decision_id, "engine": decision.engine,
            "policy_revision": decision.revision,
            **({"request_id": request} if request else {})})
    with runtime.engine.begin() as write:
        audit_log.append(write, events)
    return frozenset(allowed)
