"""The provider's catalog over DSP: pages of visible datasets, and one dataset by id.

A dataset is in a requester's catalog when at least one of its offers is visible to the
requester (``visibility.py``); only the visible offers are shown. Pages are ordered by dataset
id and cut with keyset cursors in SQL (``cursor.py``), so the cost of a page does not grow
with its position; the ``filter`` narrows the same query (``filters.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select
from sqlalchemy.orm import load_only
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from connector.catalog import cursor as cursors
from connector.catalog import dcat, filters
from connector.catalog.models import Dataset, Offer
from connector.catalog.visibility import visible_policies
from connector.db import read_only
from connector.errors import BadRequest, NotFound
from connector.runtime import Runtime

DEFAULT_PAGE = 50
MAX_PAGE = 500
_DATASET = Dataset.__table__  # type: ignore[attr-defined]
_OFFER = Offer.__table__  # type: ignore[attr-defined]
# Only what a catalog shows: JSON columns cost a parse each, 100 of them per page.
_DATASET_COLUMNS = load_only(*(getattr(Dataset, name) for name in dcat.DATASET_FIELDS))
_OFFER_COLUMNS = load_only(*(getattr(Offer, name) for name in dcat.OFFER_FIELDS))


@dataclass(frozen=True)
class CatalogPage:
    """One page of the catalog and the cursors of its neighbours (None: there is none)."""

    document: dict[str, Any]
    next_cursor: str | None
    previous_cursor: str | None


def _has_visible_offer(allowed: frozenset[str]) -> ColumnElement[bool]:
    return exists(select(_OFFER.c.id).where(_OFFER.c.dataset_id == _DATASET.c.id,
                                            _OFFER.c.policy_hash.in_(sorted(allowed))))


def _visible_offers(session: Session, dataset_ids: Sequence[str],
                    allowed: frozenset[str]) -> dict[str, list[Offer]]:
    offers = session.exec(orm_select(Offer).options(_OFFER_COLUMNS).where(
        col(Offer.dataset_id).in_(list(dataset_ids)), col(Offer.policy_hash).in_(sorted(allowed)))
        .order_by(col(Offer.dataset_id), col(Offer.id))).all()
    return dict(dcat.offers_by_dataset(offers))


def _page_ids(conn: Connection, allowed: frozenset[str], flt: filters.Filter,
              cursor: cursors.Cursor | None, limit: int) -> tuple[list[str], bool]:
    """Ids of one page in id order, and whether more lie beyond it in the paging direction."""
    query = select(_DATASET.c.id).where(
        _has_visible_offer(allowed), *filters.conditions(flt, conn.dialect.name))
    backwards = cursor is not None and cursor.direction == "before"
    if cursor is not None:
        query = query.where(_DATASET.c.id < cursor.key if backwards
                            else _DATASET.c.id > cursor.key)
    order = _DATASET.c.id.desc() if backwards else _DATASET.c.id.asc()
    ids = list(conn.execute(query.order_by(order).limit(limit + 1)).scalars())
    more = len(ids) > limit
    ids = ids[:limit]
    return (ids[::-1] if backwards else ids), more


def catalog_page(runtime: Runtime, *, participant: str, filter: Sequence[Any] | None,
                 cursor: str | None, limit: int = DEFAULT_PAGE) -> CatalogPage:
    """One page of the catalog ``participant`` may see, after ``cursor``, matching ``filter``."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    flt = filters.parse_filter(filter)
    position = cursors.decode(cursor)
    settings = runtime.settings
    with read_only(runtime.engine) as conn:
        allowed = visible_policies(runtime, conn, participant=participant)
        ids, more = _page_ids(conn, allowed, flt, position, limit) if allowed else ([], False)
        with Session(bind=conn) as session:
            rows = {d.id: d for d in session.exec(orm_select(Dataset).options(
                _DATASET_COLUMNS).where(col(Dataset.id).in_(ids)))} if ids else {}
            offers = _visible_offers(session, ids, allowed) if ids else {}
    entries = [(rows[i], offers[i]) for i in ids if i in rows and offers.get(i)]
    document = dcat.catalog_document(entries, public_url=settings.public_url,
                                     participant_id=settings.participant_id)
    backwards = position is not None and position.direction == "before"
    has_next = more if not backwards else True
    has_previous = more if backwards else position is not None
    return CatalogPage(
        document=document,
        next_cursor=cursors.encode("after", ids[-1]) if ids and has_next else None,
        previous_cursor=cursors.encode("before", ids[0]) if ids and has_previous else None)


def dataset_document(runtime: Runtime, *, participant: str, dataset_id: str) -> dict[str, Any]:
    """The DSP ``Dataset`` ``dataset_id`` with the offers ``participant`` may see.

    ``NotFound`` both for an unknown dataset and for one with no offer visible to
    ``participant``: the answer must not tell the two apart.
    """
    with read_only(runtime.engine) as conn:
        allowed = visible_policies(runtime, conn, participant=participant,
                                   dataset_id=dataset_id)
        with Session(bind=conn) as session:
            dataset = session.get(Dataset, dataset_id) if allowed else None
            offers = _visible_offers(session, [dataset_id], allowed).get(dataset_id, []) \
                if dataset is not None else []
    if dataset is None or not offers:
        raise NotFound(f"no dataset {dataset_id!r} in this catalog")
    return dcat.dataset_document(dataset, offers, public_url=runtime.settings.public_url)
