"""What the end of a consent (withdrawn or expired) does beyond the row filter.

The row filter already keeps the subject's rows out of every later pull and push: it reads the
valid consents at each one. This module does the rest, in the transaction that records the
withdrawal or expiry, each step with its audit entry:

* Every active provider agreement the record covered (its dataset, a recipient that is the
  agreement's assignee, the agreement's purpose) is marked: ``reduced`` when other subjects'
  consents still let rows be served, ``lapsed`` when none do, when an aggregate-only agreement
  is left with fewer than its k subjects, or when the agreement's policy needs every covered
  subject's consent (``consent_scope: all_subjects``).
* Under a ``lapsed`` agreement, every running transfer (REQUESTED, STARTED, SUSPENDED) is
  terminated: it concerned nothing but subjects whose consent has ended. The consumer gets the
  DSP ``TransferTerminationMessage`` (queued in the same transaction) with the reason.

Importing this module registers it with ``consent.service.LAPSE_HOOKS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from connector.audit import log as audit_log
from connector.catalog.models import Dataset
from connector.consent import service
from connector.consent.models import ConsentRecord
from connector.consent.rows import aggregate_duty
from connector.consent.subjects import SubjectsUnknown, covered_subjects
from connector.negotiation.models import Agreement
from connector.timeutil import utcnow
from connector.transfer.machine import PROVIDER, Message, State
from connector.transfer.models import Transfer
from connector.transfer.service import advance, send

RUNNING = (State.REQUESTED.value, State.STARTED.value, State.SUSPENDED.value)


def affected_agreements(session: Session, record: ConsentRecord) -> list[str]:
    """Ids of active provider agreements on personal data whose terms ``record`` covered."""
    rows = session.exec(select(Agreement).where(
        col(Agreement.role) == PROVIDER, col(Agreement.status) == "active",
        col(Agreement.dataset_id).in_(list(record.datasets)),
        col(Agreement.assignee).in_(list(record.recipients)))
        .order_by(col(Agreement.id))).all()
    out = []
    for agreement in rows:
        if agreement.purpose is None or agreement.purpose not in record.purposes:
            continue  # consent is for a purpose: without one, the record never served rows
        dataset = session.get(Dataset, agreement.dataset_id)
        if dataset is not None and dataset.personal_data:
            out.append(agreement.id)
    return out


def on_lapse(runtime: Any, session: Session, record: ConsentRecord, kind: str) -> None:
    """Mark the agreements ``record`` covered; terminate the transfers left with nothing.

    Per agreement, its running transfers are locked first and the agreement after them (the
    order a pull takes them in, so the two never deadlock), and only then are the remaining
    consents read: a withdrawal or expiry committed meanwhile by another replica is seen, so
    two ends at once cannot both leave the agreement merely ``reduced``.
    """
    for agreement_id in affected_agreements(session, record):
        transfers = session.exec(select(Transfer).where(
            col(Transfer.role) == PROVIDER, col(Transfer.agreement_id) == agreement_id,
            col(Transfer.state).in_(RUNNING)).order_by(col(Transfer.id))
            .with_for_update().execution_options(populate_existing=True)).all()
        agreement = session.exec(select(Agreement).where(col(Agreement.id) == agreement_id)
                                 .with_for_update()
                                 .execution_options(populate_existing=True)).one()
        keys = service.keys_with_consent(service.valid_consents(
            session, dataset=agreement.dataset_id, recipient=agreement.assignee,
            purpose=agreement.purpose))
        every = (agreement.normalised or {}).get("consent_scope") == "all_subjects"
        # Only all-or-nothing needs the subjects the data covers (a scan, cached for files).
        covered = _covered(runtime, session, agreement.dataset_id) if every else None
        subjects = len(set(keys.values()))
        aggregate = aggregate_duty(agreement)
        # All subjects must consent (unknown subjects cannot all have); aggregates need k
        # subjects; rows need one. Short of that, nothing may be served any more.
        lapsed = (not keys or (every and (covered is None or not covered <= keys.keys()))
                  or (aggregate is not None and subjects < int(aggregate["k"])))
        agreement.consent_state = "lapsed" if lapsed else "reduced"
        agreement.consent_changed_at = utcnow()
        session.add(agreement)
        audit_log.append(session.connection(), [{
            "type": f"agreement.consent_{agreement.consent_state}", "agreement": agreement.id,
            "dataset": agreement.dataset_id, "participant": agreement.assignee,
            "consent": record.id, "event": kind, "subjects_remaining": subjects,
            "consent_scope": "all_subjects" if every else "rows"}])
        if lapsed:
            _terminate(runtime, session, transfers, record, kind, every=every)


def _covered(runtime: Any, session: Session, dataset_id: str) -> frozenset[str] | None:
    """The subject keys in the dataset's data, or None where they cannot be read."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or runtime is None:
        return None
    try:
        return covered_subjects(runtime, dataset)
    except SubjectsUnknown:
        return None


def _terminate(runtime: Any, session: Session, transfers: Sequence[Transfer],
               record: ConsentRecord, kind: str, *, every: bool) -> None:
    why = ("the policy needs every covered data subject's consent" if every
           else "not enough data subjects' consent covers this recipient and purpose any more")
    reasons = [{"code": f"consent_{kind}",
                "message": f"a data subject's consent was {kind}; {why}"}]
    for transfer in transfers:
        step = advance(session, transfer, Message.TERMINATION, PROVIDER, reason=reasons,
                       audit={"consent": record.id})
        if step.changed:
            send(runtime, session, transfer, Message.TERMINATION, code=f"consent_{kind}",
                 reason=reasons)


service.LAPSE_HOOKS.append(on_lapse)
