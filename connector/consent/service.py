"""Giving, reading, withdrawing and importing consent, and asking which consents are valid.

Every change is an immutable event plus its audit entry, in one transaction. A data subject only
ever sees and changes their own records (someone else's id answers 404, as an unknown one does).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from connector.audit import log as audit_log
from connector.catalog.models import Dataset
from connector.consent.models import EVENT_TYPES, SCHEMA_VERSION, ConsentEvent, ConsentRecord
from connector.errors import Conflict, NotFound, ValidationFailed
from connector.timeutil import utcnow

log = logging.getLogger("connector.consent")

#: Called when a record ends (``withdrawn`` or ``expired``), in the transaction that records the
#: event: ``consent.enforce`` registers the marking of agreements and the termination of the
#: transfers that have nothing left to serve. Arguments: runtime, session, record, event type.
LAPSE_HOOKS: list[Callable[[Any, Session, ConsentRecord, str], None]] = []


@dataclass(frozen=True)
class ConsentView:
    """A record with its events and the status derived at ``at``."""

    record: ConsentRecord
    events: tuple[ConsentEvent, ...]
    status: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        """The record as the API returns it."""
        return {**record_json(self.record), "status": self.status,
                "events": [{"type": e.type, "at": _aware(e.at).isoformat(), "actor": e.actor,
                            **({"detail": e.detail} if e.detail else {})}
                           for e in self.events]}


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_json(record: ConsentRecord) -> dict[str, Any]:
    """The record's fields (ISO/IEC TS 27560 names in snake case), JSON-ready."""
    return {"id": record.id, "schema_version": record.schema_version,
            "data_subject": record.data_subject, "controller": record.controller,
            "recipients": list(record.recipients), "purposes": list(record.purposes),
            "data_categories": list(record.data_categories), "datasets": list(record.datasets),
            "subject_keys": list(record.subject_keys),
            "valid_from": _aware(record.valid_from).isoformat(),
            "valid_until": _aware(record.valid_until).isoformat() if record.valid_until else None,
            "collection_method": record.collection_method, "jurisdiction": record.jurisdiction,
            "withdrawal_method": record.withdrawal_method, "source": record.source}


def status_of(record: ConsentRecord, events: Sequence[ConsentEvent], at: datetime) -> str:
    """``active``, ``withdrawn``, ``expired`` or ``pending`` (not yet valid) at ``at``."""
    past = [e for e in events if _aware(e.at) <= at]
    if any(e.type == "withdrawn" for e in past):
        last_withdrawn = max(_aware(e.at) for e in past if e.type == "withdrawn")
        renewed_after = any(e.type == "renewed" and _aware(e.at) > last_withdrawn for e in past)
        if not renewed_after:
            return "withdrawn"
    if record.valid_until is not None and _aware(record.valid_until) <= at:
        return "expired"
    if _aware(record.valid_from) > at:
        return "pending"
    return "active"


def _str_list(value: Any, field: str, *, required: bool = True) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationFailed(f"{field} must be a list of strings",
                               errors=[{"path": field, "message": "list of non-empty strings"}])
    if required and not value:
        raise ValidationFailed(f"{field} must not be empty",
                               errors=[{"path": field, "message": "at least one entry"}])
    return sorted(set(value))


def _time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{field} is not an RFC 3339 time",
                               errors=[{"path": field, "message": "RFC 3339 time"}]) from None
    moment = _aware(moment)
    # Consent is given and ends in our era: outside it, times cannot become epoch seconds
    # (receipts, policy input) on every platform.
    if not _EARLIEST <= moment < _LATEST:
        raise ValidationFailed(f"{field} must lie between 1970 and 9999",
                               errors=[{"path": field, "message": "a time from 1970 to 9998"}])
    return moment


def _new_record(session: Session, body: Mapping[str, Any], *, data_subject: str,
                controller: str, source: str) -> ConsentRecord:
    datasets = _str_list(body.get("datasets"), "datasets")
    for dataset_id in datasets:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or not dataset.personal_data:
            raise ValidationFailed(f"{dataset_id} is not a personal-data dataset",
                                   errors=[{"path": "datasets", "message": "unknown dataset"}])
    valid_from = _time(body.get("valid_from"), "valid_from") or utcnow()
    valid_until = _time(body.get("valid_until"), "valid_until")
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed("valid_until must be after valid_from",
                               errors=[{"path": "valid_until", "message": "after valid_from"}])
    record_id = body.get("id") if source == "imported" else None
    if record_id is not None:
        if not isinstance(record_id, str) or not record_id or len(record_id) > 255:
            raise ValidationFailed("id must be a string of at most 255 characters",
                                   errors=[{"path": "id", "message": "string"}])
        if session.get(ConsentRecord, record_id) is not None:
            raise Conflict(f"consent record {record_id} exists")
    return ConsentRecord(
        id=record_id or f"urn:uuid:{uuid.uuid4()}", schema_version=SCHEMA_VERSION,
        data_subject=data_subject,
        controller=str(body.get("controller") or controller),
        recipients=_str_list(body.get("recipients"), "recipients"),
        purposes=_str_list(body.get("purposes"), "purposes"),
        data_categories=_str_list(body.get("data_categories", []), "data_categories",
                                  required=False),
        datasets=datasets,
        subject_keys=_str_list(body.get("subject_keys", []), "subject_keys", required=False),
        valid_from=valid_from, valid_until=valid_until,
        collection_method=str(body.get("collection_method") or "consent API"),
        jurisdiction=str(body.get("jurisdiction") or "EU"),
        withdrawal_method=str(body.get("withdrawal_method")
                              or "POST /api/v1/consents/{id}/withdraw"),
        source=source)


def _add_event(session: Session, record: ConsentRecord, kind: str, actor: str,
               at: datetime | None = None, **detail: Any) -> ConsentEvent:
    assert kind in EVENT_TYPES
    event = ConsentEvent(record_id=record.id, type=kind, at=at or utcnow(), actor=actor,
                         detail=detail)
    session.add(event)
    session.flush()
    audit_log.append(session.connection(), [{
        "type": f"consent.{kind}", "consent": record.id, "participant": record.data_subject,
        "dataset": record.datasets[0] if len(record.datasets) == 1 else None,
        "datasets": list(record.datasets), "recipients": list(record.recipients),
        "purposes": list(record.purposes), "actor": actor}])
    return event


def give(session: Session, *, data_subject: str, controller: str,
         body: Mapping[str, Any]) -> ConsentView:
    """A data subject gives consent; one transaction: record, ``given`` event, audit entry."""
    record = _new_record(session, body, data_subject=data_subject, controller=controller,
                         source="given")
    session.add(record)
    session.flush()
    _add_event(session, record, "given", data_subject, at=record.valid_from
               if record.valid_from <= utcnow() else None)
    session.commit()
    return view(session, record.id, data_subject=data_subject)


def import_record(session: Session, *, actor: str, controller: str,
                  body: Mapping[str, Any]) -> ConsentView:
    """A provider imports a record collected elsewhere (same checks, source ``imported``)."""
    subject = body.get("data_subject")
    if not isinstance(subject, str) or not subject:
        raise ValidationFailed("data_subject is required",
                               errors=[{"path": "data_subject", "message": "required"}])
    record = _new_record(session, body, data_subject=subject, controller=controller,
                         source="imported")
    session.add(record)
    session.flush()
    _add_event(session, record, "given", actor, at=record.valid_from, imported=True)
    withdrawn_at = _time(body.get("withdrawn_at"), "withdrawn_at")
    if withdrawn_at is not None and withdrawn_at > utcnow():
        # A withdrawal is a past event; one dated ahead would end the consent with no one
        # there to mark agreements and end transfers when its time comes.
        raise ValidationFailed("withdrawn_at must not be in the future",
                               errors=[{"path": "withdrawn_at", "message": "a past time"}])
    if withdrawn_at is not None:
        _add_event(session, record, "withdrawn", actor, at=withdrawn_at, imported=True)
    session.commit()
    return view(session, record.id)


def view(session: Session, record_id: str, *, data_subject: str | None = None,
         at: datetime | None = None) -> ConsentView:
    """One record; NotFound if it does not exist or is not ``data_subject``'s."""
    record = session.get(ConsentRecord, record_id)
    if record is None or (data_subject is not None and record.data_subject != data_subject):
        raise NotFound(f"no consent record {record_id}")
    events = session.exec(select(ConsentEvent).where(col(ConsentEvent.record_id) == record_id)
                          .order_by(col(ConsentEvent.id))).all()
    moment = at or utcnow()
    return ConsentView(record, tuple(events), status_of(record, events, moment), moment)


def list_for(session: Session, *, data_subject: str) -> list[ConsentView]:
    """Every record of ``data_subject``, newest first."""
    ids = session.exec(select(ConsentRecord.id)
                       .where(col(ConsentRecord.data_subject) == data_subject)
                       .order_by(col(ConsentRecord.created_at).desc())).all()
    return [view(session, record_id) for record_id in ids]


def withdraw(session: Session, *, record_id: str, data_subject: str | None, actor: str,
             runtime: Any) -> ConsentView:
    """Withdraw at once: after this returns, no pull serves the subject's rows.

    The record row is locked first, so two withdrawals (or a withdrawal and the expiry sweep)
    of one record record one event between them.
    """
    session.get(ConsentRecord, record_id, with_for_update=True)
    current = view(session, record_id, data_subject=data_subject)
    if current.status in ("withdrawn", "expired"):
        session.rollback()
        return current  # withdrawing twice (or after the end) has the effect of once
    _add_event(session, current.record, "withdrawn", actor)
    for hook in LAPSE_HOOKS:
        hook(runtime, session, current.record, "withdrawn")
    session.commit()
    return view(session, record_id)


def _ended(session: Session, record_ids: Sequence[str]) -> set[str]:
    """Those of ``record_ids`` that already have a ``withdrawn`` or ``expired`` event."""
    if not record_ids:
        return set()
    return set(session.exec(select(ConsentEvent.record_id).where(
        col(ConsentEvent.record_id).in_(record_ids),
        col(ConsentEvent.type).in_(["withdrawn", "expired"]))).all())


def expire_due(session: Session, *, runtime: Any, now: datetime | None = None) -> list[str]:
    """Record ``expired`` (at its ``valid_until``) for each record that ran out; their ids.

    Pulls refuse an expired record from the moment it expires (status is derived from time);
    this gives expiry the same event, audit entry and enforcement as a withdrawal. Each record
    is its own transaction, locked, so concurrent sweeps record one event.
    """
    moment = now or utcnow()
    ended = select(ConsentEvent.id).where(
        col(ConsentEvent.record_id) == ConsentRecord.id,
        col(ConsentEvent.type).in_(["withdrawn", "expired"]))
    due = session.exec(select(ConsentRecord.id).where(
        col(ConsentRecord.valid_until).is_not(None),
        col(ConsentRecord.valid_until) <= moment, ~ended.exists())).all()
    session.rollback()
    expired: list[str] = []
    for record_id in due:
        try:
            record = session.get(ConsentRecord, record_id, with_for_update=True)
            if record is None or _ended(session, [record_id]) or record.valid_until is None:
                session.rollback()
                continue
            _add_event(session, record, "expired", "connector", at=_aware(record.valid_until))
            for hook in LAPSE_HOOKS:
                hook(runtime, session, record, "expired")
            session.commit()
        except Exception:  # one record's failure must not hold up every later expiry
            session.rollback()
            log.exception("expiring a consent record failed", extra={"consent": record_id})
            continue
        expired.append(record_id)
    return expired


def next_expiry(session: Session, *, after: datetime) -> datetime | None:
    """The earliest ``valid_until`` after ``after`` (when the sweep next has work)."""
    moment = session.exec(select(ConsentRecord.valid_until).where(
        col(ConsentRecord.valid_until) > after).order_by(
            col(ConsentRecord.valid_until)).limit(1)).first()
    return _aware(moment) if moment is not None else None


def valid_consents(session: Session, *, dataset: str, recipient: str | None = None,
                   purpose: str | None = None, at: datetime | None = None,
                   ) -> list[ConsentView]:
    """The records valid at ``at`` covering ``dataset`` (and recipient and purpose, if given)."""
    moment = at or utcnow()
    records = session.exec(select(ConsentRecord)).all()
    wanted = [r for r in records if dataset in r.datasets
              and (recipient is None or recipient in r.recipients)
              and (purpose is None or purpose in r.purposes)]
    if not wanted:
        return []
    events = session.exec(select(ConsentEvent).where(
        col(ConsentEvent.record_id).in_([r.id for r in wanted]))).all()
    by_record: dict[str, list[ConsentEvent]] = {}
    for event in events:
        by_record.setdefault(event.record_id, []).append(event)
    views = [ConsentView(r, tuple(by_record.get(r.id, [])),
                         status_of(r, by_record.get(r.id, []), moment), moment) for r in wanted]
    return [v for v in views if v.status == "active"]


def keys_with_consent(views: Iterable[ConsentView]) -> dict[str, str]:
    """Each subject key the views cover, with its data subject (where two records name one key
    for different subjects, the same one of them every time: a key never counts twice)."""
    owner: dict[str, str] = {}
    for v in views:
        for key in v.record.subject_keys or [v.record.data_subject]:
            known = owner.get(key)
            owner[key] = v.record.data_subject if known is None else min(known,
                                                                         v.record.data_subject)
    return owner


def subjects_with_consent(views: Iterable[ConsentView]) -> frozenset[str]:
    """The subject keys (or, where a record names none, the data subjects) the views cover."""
    return frozenset(keys_with_consent(views))
