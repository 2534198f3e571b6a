"""Appending to the audit log, inside the caller's transaction.

An entry is the event plus its own ``index`` and a ``time``, as RFC 8785 canonical JSON
(``verify.encode_entry``); its leaf and the subtree hashes it completes are stored with it, so
proofs and roots need O(log n) reads later. Nothing is written outside the caller's transaction:
no change without its entry, no entry without its change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from connector.audit import storage
from connector.audit.hashing import leaf_hash, stored_hash_index, stored_hashes_for_append
from connector.audit.verify import encode_entry

MAX_TYPE_LENGTH = 64


def _event_time(event: Mapping[str, Any], now: datetime) -> tuple[str, datetime]:
    given = event.get("time")
    if isinstance(given, str):
        return given, datetime.fromisoformat(given.replace("Z", "+00:00"))
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), now


def append(conn: Connection, events: Sequence[Mapping[str, Any]],
           *, now: datetime | None = None) -> list[int]:
    """Append ``events`` in order; return their indexes. Commits with ``conn``'s transaction.

    Each event needs a string ``type``; ``time`` (RFC 3339) is added when missing. Secrets
    never belong in an event: callers log identifiers, hashes and decisions, not tokens.
    """
    if not events:
        return []
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    start = storage.reserve(conn, len(events))
    fresh: dict[int, bytes] = {}

    def read(indexes: list[int]) -> list[bytes]:
        stored = [i for i in indexes if i not in fresh]
        from_db = dict(zip(stored, storage.read_hashes(conn, stored), strict=True)) \
            if stored else {}
        return [fresh[i] if i in fresh else from_db[i] for i in indexes]

    rows: list[storage.EntryRow] = []
    for offset, event in enumerate(events):
        kind = event.get("type")
        if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_LENGTH:
            raise ValueError(f"audit event needs a short string type, got {kind!r}")
        index = start + offset
        stamp, moment_of_event = _event_time(event, moment)
        body = encode_entry(index, {**event, "time": stamp})
        hashes = stored_hashes_for_append(index, leaf_hash(body), read)
        first = stored_hash_index(0, index)
        fresh.update(enumerate(hashes, first))
        rows.append(storage.EntryRow(
            idx=index, type=kind, time=moment_of_event,
            participant=_str_or_none(event.get("participant")),
            dataset=_str_or_none(event.get("dataset")), body=body))
    storage.insert_entries(conn, rows)
    storage.insert_hashes(conn, sorted(fresh.items()))
    return [row.idx for row in rows]


def _str_or_none(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) else None
