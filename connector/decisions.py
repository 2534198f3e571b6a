"""Asking the policy engine on behalf of a service, and recording the answer in the audit log.

Every decision the connector acts on goes through :func:`decide`: it builds the one input shape
(``policy.input.build_input``) from the participant registry and the dataset, asks the engine
(a failure there is already a deny), and appends a ``policy.decision`` audit entry in the
caller's transaction, so the change the decision allows commits with the record of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from connector.audit import log as audit_log
from connector.catalog.models import Dataset
from connector.participants.models import Participant
from connector.policy.engine import Decision
from connector.policy.input import build_input
from connector.runtime import Runtime
from connector.timeutil import utcnow


def subject_of(conn: Connection, participant: str, roles: Sequence[str] = ()) -> dict[str, Any]:
    """The decision input's ``subject`` from the participant registry (unknown: no attributes)."""
    row = conn.execute(Participant.__table__.select().where(  # type: ignore[attr-defined]
        Participant.__table__.c.id == participant)).first()  # type: ignore[attr-defined]
    if row is None:
        return {"participant": participant, "roles": list(roles), "org_type": None,
                "region": None}
    return {"participant": participant, "roles": sorted({*roles, row.role}),
            "org_type": row.org_type, "region": row.region}


def resource_of(dataset: Dataset, *, data_subject: str | None = None) -> dict[str, Any]:
    """The decision input's ``resource`` for ``dataset``."""
    return {"dataset": dataset.id, "owner": dataset.owner, "personal_data": dataset.personal_data,
            "data_subject": data_subject}


def decide(runtime: Runtime, conn: Connection, *, action: str, participant: str,
           dataset: Dataset, policy: Mapping[str, Any] | None, purpose: str | None = None,
           usage_count: int = 0, consents: Sequence[Mapping[str, Any]] = (),
           approval: Mapping[str, Any] | None = None, roles: Sequence[str] = (),
           data_subject: str | None = None, now: datetime | None = None,
           record: bool = True, extra: Mapping[str, Any] | None = None) -> Decision:
    """Decide ``action`` for ``participant`` on ``dataset`` and (by default) audit it.

    ``extra`` adds identifiers to the audit entry (negotiation, agreement, transfer ids).
    """
    input_doc = build_input(
        action=action, subject=subject_of(conn, participant, roles),
        resource=resource_of(dataset, data_subject=data_subject), policy=policy,
        context={"now": now or utcnow(), "purpose": purpose, "usage_count": usage_count,
                 "consents": list(consents), "approval": approval})
    decision = runtime.decide(action, input_doc)
    if record:
        audit_log.append(conn, [{
            "type": "policy.decision", "action": action, "participant": participant,
            "dataset": dataset.id, "allow": decision.allow,
            "reasons": [r.as_dict() for r in decision.reasons],
            "obligations": [dict(o) for o in decision.obligations],
            "decision_id": decision.decision_id, "engine": decision.engine,
            "policy_revision": decision.revision,
            **({"data_subject": data_subject} if data_subject else {}), **(extra or {})}])
    return decision
