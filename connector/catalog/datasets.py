"""Registering, changing and removing datasets (the provider's management API).

A provider may only touch datasets whose ``owner`` is its own participant; a principal holding
the ``admin`` scope may touch any. Every change commits with its audit entry
(``dataset.created`` / ``dataset.updated`` / ``dataset.deleted``) in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connector.audit import log as audit_log
from connector.auth.principal import Principal
from connector.catalog import cursor as cursors
from connector.catalog import sources
from connector.catalog.models import Dataset, Offer
from connector.catalog.schemas import DatasetFields, DatasetIn, DatasetOut, Page
from connector.errors import Conflict, Forbidden, NotFound, ValidationFailed
from connector.negotiation.models import Agreement, Negotiation
from connector.runtime import Runtime
from connector.timeutil import utcnow

MAX_PAGE = 500
# Identifiers become JSON-LD @ids: a compact IRI of the DSP context's prefixes would expand.
_RESERVED_PREFIXES = ("dspace:", "dcat:", "dct:", "odrl:", "xsd:", "_:", "@")
_NOT_NULL = ("title", "description", "owner", "keywords", "themes", "personal_data",
             "media_type", "extra")


def is_admin(principal: Principal) -> bool:
    """Whether ``principal`` may manage every participant's datasets and offers."""
    return "admin" in principal.scopes


def check_identifier(value: str, field: str) -> None:
    """``ValidationFailed`` for an id that JSON-LD would not keep as it is."""
    if value.startswith(_RESERVED_PREFIXES):
        message = (f"{field} must not start with {', '.join(_RESERVED_PREFIXES)}: JSON-LD "
                   "would read it as a compact IRI or a keyword")
        raise ValidationFailed(message, errors=[{"path": field, "message": message,
                                                 "kind": "identifier"}])


def _may_own(principal: Principal, owner: str) -> None:
    if owner != principal.participant and not is_admin(principal):
        raise Forbidden(f"a provider manages only its own datasets (owner "
                        f"{principal.participant!r}), not those of {owner!r}")


def owned(session: Session, principal: Principal, dataset_id: str) -> Dataset:
    """The dataset ``dataset_id`` if ``principal`` may manage it (``NotFound``/``Forbidden``)."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    _may_own(principal, dataset.owner)
    return dataset


def to_out(dataset: Dataset) -> DatasetOut:
    """The dataset as the management API shows it."""
    return DatasetOut(**{name: getattr(dataset, name) for name in DatasetOut.model_fields
                         if name != "source"}, source=sources.source_of(dataset))


def _event(kind: str, dataset: Dataset, principal: Principal, **extra: Any) -> dict[str, Any]:
    return {"type": f"dataset.{kind}", "dataset": dataset.id, "owner": dataset.owner,
            "participant": principal.participant, "client_id": principal.client_id, **extra}


def _columns(runtime: Runtime, fields: DatasetFields) -> dict[str, Any]:
    values = fields.model_dump(exclude_unset=True, exclude={"source", "id"})
    nulls = sorted(k for k in (*_NOT_NULL, "source") if k in fields.model_fields_set
                   and getattr(fields, k) is None)
    if nulls:
        raise ValidationFailed(f"{', '.join(nulls)} cannot be null", errors=[
            {"path": k, "message": "cannot be null", "kind": "null"} for k in nulls])
    if fields.source is not None:
        values.update(sources.check_source(runtime.settings, fields.source))
    return values


def create_dataset(runtime: Runtime, session: Session, *, principal: Principal,
                   data: DatasetIn) -> DatasetOut:
    """Register a dataset (owned by the caller unless an admin names another owner)."""
    owner = data.owner or principal.participant
    _may_own(principal, owner)
    dataset_id = data.id or f"urn:uuid:{uuid.uuid4()}"
    check_identifier(dataset_id, "id")
    if session.get(Dataset, dataset_id) is not None:
        raise Conflict(f"dataset {dataset_id!r} exists")
    dataset = Dataset(id=dataset_id, **{**_columns(runtime, data), "owner": owner})
    session.add(dataset)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"dataset {dataset_id!r} exists") from None
    audit_log.append(session.connection(), [_event(
        "created", dataset, principal, source_kind=dataset.source_kind,
        personal_data=dataset.personal_data, sha256=dataset.sha256)])
    session.commit()
    return to_out(dataset)


def update_dataset(runtime: Runtime, session: Session, *, principal: Principal,
                   dataset_id: str, changes: DatasetFields) -> DatasetOut:
    """Change the given fields of one of the caller's datasets."""
    dataset = owned(session, principal, dataset_id)
    if changes.owner is not None:
        _may_own(principal, changes.owner)
    values = _columns(runtime, changes)
    changed = sorted(k for k, v in values.items() if getattr(dataset, k) != v)
    for key in changed:
        setattr(dataset, key, values[key])
    if changed:
        dataset.updated_at = utcnow()
        session.add(dataset)
        session.flush()
        audit_log.append(session.connection(), [_event("updated", dataset, principal,
                                                       fields=changed)])
        session.commit()
    return to_out(dataset)


def delete_dataset(session: Session, *, principal: Principal, dataset_id: str) -> None:
    """Remove one of the caller's datasets and its offers.

    Refused (``Conflict``) while negotiations or agreements of ours name it: transfers under
    them still need the data. Deleting its offers takes it out of the catalog meanwhile.
    """
    dataset = owned(session, principal, dataset_id)
    for table, what in ((Negotiation, "negotiations"), (Agreement, "agreements")):
        used = session.exec(select(table.id).where(
            col(table.dataset_id) == dataset_id, col(table.role) == "provider").limit(1)).first()
        if used is not None:
            raise Conflict(f"dataset {dataset_id!r} has {what}; delete its offers instead to "
                           "take it out of the catalog")
    offers = session.exec(select(Offer).where(col(Offer.dataset_id) == dataset_id)
                          .order_by(col(Offer.id))).all()
    events = [{"type": "offer.deleted", "offer": o.id, "dataset": dataset_id,
               "owner": dataset.owner, "participant": principal.participant,
               "client_id": principal.client_id, "policy_hash": o.policy_hash}
              for o in offers]
    for offer in offers:
        session.delete(offer)
    session.flush()
    session.delete(dataset)
    session.flush()
    audit_log.append(session.connection(), [*events, _event(
        "deleted", dataset, principal, offers=[o.id for o in offers])])
    session.commit()


def get_dataset(session: Session, *, principal: Principal, dataset_id: str) -> DatasetOut:
    """One of the caller's datasets."""
    return to_out(owned(session, principal, dataset_id))


def list_datasets(session: Session, *, principal: Principal, cursor: str | None, limit: int,
                  owner: str | None = None) -> Page[DatasetOut]:
    """The caller's datasets (an admin's: everyone's, or ``owner``'s) by id, one page."""
    position = cursors.decode(cursor)
    query = select(Dataset)
    if not is_admin(principal):
        if owner is not None:
            _may_own(principal, owner)
        owner = principal.participant
    if owner is not None:
        query = query.where(col(Dataset.owner) == owner)
    if position is not None:
        query = query.where(col(Dataset.id) > position.key)
    rows = session.exec(query.order_by(col(Dataset.id)).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[DatasetOut](
        items=[to_out(d) for d in rows],
        next_cursor=cursors.encode("after", rows[-1].id) if more and rows else None)
