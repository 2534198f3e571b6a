"""The audit log's I/O: every read and write of the audit tables, on a SQLAlchemy connection.

Everything else in ``connector.audit`` is pure. Callers pass the connection of the transaction
that makes the change being recorded, so an entry commits (or rolls back) with its change.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text

from connector.audit.errors import TreeStateError
from connector.audit.models import AuditCheckpoint, AuditEntry, AuditHash

_ENTRY = AuditEntry.__table__  # type: ignore[attr-defined]
_HASH = AuditHash.__table__  # type: ignore[attr-defined]
_CHECKPOINT = AuditCheckpoint.__table__  # type: ignore[attr-defined]
_IN_CHUNK = 500  # stay well below every driver's bound-parameter limit
# The append path runs on every audited change: plain SQL skips the expression compiler.
_RESERVE = text("UPDATE audit_head SET size = size + :n WHERE id = 1 RETURNING size")
_READ_HASHES = text("SELECT idx, hash FROM audit_hash WHERE idx IN :ids").bindparams(
    bindparam("ids", expanding=True))
_TREE_SIZE = text("SELECT size FROM audit_head WHERE id = 1")


@dataclass(frozen=True)
class EntryRow:
    """One entry as stored, with the columns auditors search by."""

    idx: int
    type: str
    time: datetime
    participant: str | None
    dataset: str | None
    body: bytes


@dataclass(frozen=True)
class CheckpointRow:
    """A stored signed checkpoint."""

    size: int
    root: bytes
    note: str
    created_at: datetime


def reserve(conn: Connection, count: int) -> int:
    """Advance the head by ``count`` and return the first reserved index.

    The UPDATE takes the head row's write lock, which is held until the transaction ends:
    this is the sequencer. Replicas on one PostgreSQL queue here, so indexes are dense and
    in commit order, and a rolled-back transaction gives its indexes back.
    """
    new_size = conn.execute(_RESERVE, {"n": count}).scalar_one()
    return int(new_size) - count


def tree_size(conn: Connection) -> int:
    """The number of committed entries (as this transaction sees it)."""
    return int(conn.execute(_TREE_SIZE).scalar_one())


def read_hashes(conn: Connection, indexes: Sequence[int]) -> list[bytes]:
    """Stored hashes at ``indexes``, in the order asked; a missing one is a broken tree."""
    found: dict[int, bytes] = {}
    wanted = sorted(set(indexes))
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        for idx, value in conn.execute(_READ_HASHES, {"ids": chunk}):
            found[int(idx)] = bytes(value)
    missing = [i for i in indexes if i not in found]
    if missing:
        raise TreeStateError(f"stored hashes missing at {missing[:5]}")
    return [found[i] for i in indexes]


def insert_entries(conn: Connection, rows: Sequence[EntryRow]) -> None:
    """Insert entries (one executemany)."""
    # Core insert(): executemany becomes one multi-row INSERT ("insertmanyvalues").
    conn.execute(insert(_ENTRY), [row.__dict__ for row in rows])


def insert_hashes(conn: Connection, hashes: Sequence[tuple[int, bytes]]) -> None:
    """Insert stored hashes (one executemany)."""
    conn.execute(insert(_HASH), [{"idx": i, "hash": h} for i, h in hashes])


def get_entry(conn: Connection, idx: int) -> EntryRow | None:
    """The entry at ``idx``, or None."""
    row = conn.execute(select(_ENTRY).where(_ENTRY.c.idx == idx)).first()
    return None if row is None else _entry(row)


def iter_bodies(conn: Connection, size: int, batch: int = 1000) -> Iterator[bytes]:
    """The bodies of entries ``0 … size-1`` in index order, read in batches (for export)."""
    start = 0
    while start < size:
        stop = min(size, start + batch)
        rows = conn.execute(select(_ENTRY.c.idx, _ENTRY.c.body)
                            .where(_ENTRY.c.idx >= start, _ENTRY.c.idx < stop)
                            .order_by(_ENTRY.c.idx)).all()
        for expected, (idx, body) in enumerate(rows, start):
            if idx != expected:
                raise TreeStateError(f"audit entry {expected} is missing")
            yield bytes(body)
        if len(rows) != stop - start:
            raise TreeStateError(f"audit entry {start + len(rows)} is missing")
        start = stop


def search(conn: Connection, *, after: int | None, limit: int, types: Sequence[str] = (),
           participant: str | None = None, dataset: str | None = None,
           time_from: datetime | None = None, time_to: datetime | None = None,
           ) -> list[EntryRow]:
    """Entries matching every given filter, in index order, after the cursor index."""
    query = select(_ENTRY).order_by(_ENTRY.c.idx).limit(limit)
    if after is not None:
        query = query.where(_ENTRY.c.idx > after)
    if types:
        query = query.where(_ENTRY.c.type.in_(list(types)))
    if participant is not None:
        query = query.where(_ENTRY.c.participant == participant)
    if dataset is not None:
        query = query.where(_ENTRY.c.dataset == dataset)
    if time_from is not None:
        query = query.where(_ENTRY.c.time >= time_from)
    if time_to is not None:
        query = query.where(_ENTRY.c.time < time_to)
    return [_entry(row) for row in conn.execute(query)]


def latest_checkpoint(conn: Connection) -> CheckpointRow | None:
    """The checkpoint of the largest tree signed so far."""
    row = conn.execute(select(_CHECKPOINT).order_by(_CHECKPOINT.c.size.desc()).limit(1)).first()
    return None if row is None else _checkpoint(row)


def get_checkpoint(conn: Connection, size: int) -> CheckpointRow | None:
    """The checkpoint of the tree at ``size``, if one was signed."""
    row = conn.execute(select(_CHECKPOINT).where(_CHECKPOINT.c.size == size)).first()
    return None if row is None else _checkpoint(row)


def insert_checkpoint(conn: Connection, row: CheckpointRow) -> None:
    """Store a signed checkpoint (the primary key refuses a second one for the same size)."""
    conn.execute(insert(_CHECKPOINT).values(**row.__dict__))


def _entry(row: Any) -> EntryRow:
    m = row._mapping
    return EntryRow(idx=int(m["idx"]), type=m["type"], time=m["time"],
                    participant=m["participant"], dataset=m["dataset"], body=bytes(m["body"]))


def _checkpoint(row: Any) -> CheckpointRow:
    m = row._mapping
    return CheckpointRow(size=int(m["size"]), root=bytes(m["root"]), note=m["note"],
                         created_at=m["created_at"])
