"""What the audit API offers: the signed head, entries, proofs, search and export."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from connector.audit import storage
from connector.audit.proofs import consistency_proof, inclusion_proof
from connector.audit.signer import sign_checkpoint
from connector.db import read_only
from connector.errors import BadRequest, NotFound
from connector.runtime import Runtime

MAX_PAGE = 500
MAX_INDEX = 2**63 - 1  # entry indexes are signed 64-bit integers in both databases


def latest_note(runtime: Runtime) -> str:
    """The latest signed checkpoint; the first call on an empty log signs the empty tree."""
    with read_only(runtime.engine) as conn:
        latest = storage.latest_checkpoint(conn)
    if latest is not None:
        return latest.note
    with runtime.engine.begin() as conn:
        return sign_checkpoint(conn, origin=runtime.settings.audit_origin,
                               private_key=runtime.audit_key.private_key).note


def entry(engine: Engine, index: int) -> bytes:
    """The stored bytes of entry ``index``."""
    with read_only(engine) as conn:
        row = storage.get_entry(conn, index) if 0 <= index <= MAX_INDEX else None
    if row is None:
        raise NotFound(f"no audit entry {index}")
    return row.body


def _b64(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def inclusion(engine: Engine, *, index: int, size: int) -> dict[str, Any]:
    """RFC 9162 inclusion proof of ``index`` in the tree of ``size`` (any size the log had)."""
    with read_only(engine) as conn:
        current = storage.tree_size(conn)
        if not 0 <= index < size:
            raise BadRequest(f"index must be in [0, size): got index={index}, size={size}")
        if size > current:
            raise NotFound(f"the log has {current} entries, not {size}")
        proof = inclusion_proof(index, size, lambda ix: storage.read_hashes(conn, ix))
    return {"index": index, "size": size, "hashes": _b64(proof)}


def consistency(engine: Engine, *, first: int, second: int) -> dict[str, Any]:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` entries."""
    with read_only(engine) as conn:
        current = storage.tree_size(conn)
        if not 0 < first <= second:
            raise BadRequest(f"need 0 < first <= second: got first={first}, second={second}")
        if second > current:
            raise NotFound(f"the log has {current} entries, not {second}")
        proof = consistency_proof(first, second, lambda ix: storage.read_hashes(conn, ix))
    return {"first": first, "second": second, "hashes": _b64(proof)}


def search(engine: Engine, *, cursor: str | None, limit: int, types: Sequence[str],
           participant: str | None, dataset: str | None, time_from: datetime | None,
           time_to: datetime | None) -> dict[str, Any]:
    """A page of matching entries (as stored, decoded), and the cursor of the next page."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    after = None
    if cursor:
        # isdigit() alone admits digits such as "²" that int() refuses.
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 19) \
                or int(cursor) > MAX_INDEX:
            raise BadRequest("cursor is not one this API handed out")
        after = int(cursor)
    with read_only(engine) as conn:
        rows = storage.search(conn, after=after, limit=limit, types=types,
                              participant=participant, dataset=dataset, time_from=time_from,
                              time_to=time_to)
    items = [{"index": r.idx, "entry": json.loads(r.body)} for r in rows]
    next_cursor = str(rows[-1].idx) if len(rows) == limit else None
    return {"items": items, "next_cursor": next_cursor}


def export_size(runtime: Runtime, size: int | None) -> int:
    """The size to export: the given one (checked) or that of the latest checkpoint."""
    with read_only(runtime.engine) as conn:
        current = storage.tree_size(conn)
        latest = storage.latest_checkpoint(conn)
    if size is None:
        return latest.size if latest is not None else 0
    if not 0 <= size <= current:
        raise NotFound(f"the log has {current} entries, not {size}")
    return size


def export(engine: Engine, size: int) -> Iterator[bytes]:
    """Entries ``0 … size-1`` exactly as stored, one per line, streamed."""
    with read_only(engine) as conn:
        for body in storage.iter_bodies(conn, size):
            yield body + b"\n"
