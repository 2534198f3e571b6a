"""The audit log on SQLite and PostgreSQL: appends, proofs, checkpoints, append-only tables."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from connector.audit import log as audit_log
from connector.audit import service, storage
from connector.audit.errors import AuditError, NoteError
from connector.audit.hashing import leaf_hash, root_from_leaves
from connector.audit.note import verify_note
from connector.audit.proofs import verify_consistency, verify_inclusion
from connector.audit.signer import CheckpointScheduler, sign_checkpoint, verifier_key
from connector.audit.verify import verify_log
from connector.config import Settings
from connector.runtime import Runtime


@pytest.fixture
def runtime(data_dir: Path, database_url: str) -> Iterator[Runtime]:
    rt = Runtime.start(Settings(data_dir=data_dir, database_url=database_url))
    yield rt
    rt.close()


def _append(runtime: Runtime, n: int, batch: int = 1) -> None:
    for start in range(0, n, batch):
        with runtime.engine.begin() as conn:
            audit_log.append(conn, [{"type": "test.event", "n": i, "participant": f"p{i % 3}",
                                     "dataset": "urn:dataset:x"}
                                    for i in range(start, min(n, start + batch))])


def _bodies(runtime: Runtime) -> list[bytes]:
    with runtime.engine.connect() as conn:
        return list(storage.iter_bodies(conn, storage.tree_size(conn)))


def _sign(runtime: Runtime) -> storage.CheckpointRow:
    with runtime.engine.begin() as conn:
        return sign_checkpoint(conn, origin=runtime.settings.audit_origin,
                               private_key=runtime.audit_key.private_key)


def test_start_logs_the_generated_keys(runtime: Runtime) -> None:
    entries = [json.loads(b) for b in _bodies(runtime)]
    assert [(e["type"], e["purpose"]) for e in entries] == [
        ("key.created", "access-token"), ("key.created", "audit"), ("key.created", "receipt")]
    assert [e["index"] for e in entries] == [0, 1, 2]


def test_stored_tree_matches_a_rebuild_and_proofs_verify(runtime: Runtime) -> None:
    _append(runtime, 37, batch=5)
    bodies = _bodies(runtime)
    leaves = [leaf_hash(b) for b in bodies]
    size = len(bodies)
    assert size == 40
    row = _sign(runtime)
    assert row.root == root_from_leaves(leaves) and row.size == size
    for index in (0, 1, 17, 39):
        for at in {index + 1, max(index + 1, 25), size}:
            proof = service.inclusion(runtime.engine, index=index, size=at)
            hashes = [base64.b64decode(h) for h in proof["hashes"]]
            verify_inclusion(leaves[index], index, at, hashes, root_from_leaves(leaves[:at]))
    for first in (1, 3, 8, 21, 40):
        proof = service.consistency(runtime.engine, first=first, second=size)
        verify_consistency(first, size, [base64.b64decode(h) for h in proof["hashes"]],
                           root_from_leaves(leaves[:first]), row.root)


def test_export_and_offline_verification(runtime: Runtime) -> None:
    first = service.latest_note(runtime)  # signs the 3 key entries
    _append(runtime, 10)
    note = _sign(runtime).note
    size = service.export_size(runtime, None)
    assert size == 13
    exported = b"".join(service.export(runtime.engine, size))
    vkey = verifier_key(runtime.settings.audit_origin, runtime.audit_key.private_key)
    result = verify_log(exported.splitlines(), note, vkey, previous_note=first)
    assert result.size == 13 and result.previous_size == 3


def test_rolled_back_change_leaves_no_entry(runtime: Runtime) -> None:
    before = len(_bodies(runtime))
    with pytest.raises(RuntimeError), runtime.engine.begin() as conn:
        audit_log.append(conn, [{"type": "test.event"}])
        raise RuntimeError("the change failed")
    assert len(_bodies(runtime)) == before
    _append(runtime, 1)
    assert [json.loads(b)["index"] for b in _bodies(runtime)] == list(range(before + 1))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET type = 'x' WHERE idx = 0",
    "DELETE FROM audit_entry WHERE idx = 0",
    "UPDATE audit_hash SET hash = hash WHERE idx = 0",
    "DELETE FROM audit_hash",
    "UPDATE audit_checkpoint SET note = 'x'",
    "DELETE FROM audit_checkpoint",
    "DELETE FROM audit_head",
])
def test_audit_tables_refuse_update_and_delete(runtime: Runtime, statement: str) -> None:
    service.latest_note(runtime)
    with pytest.raises(DBAPIError, match="append-only"), runtime.engine.begin() as conn:
        conn.execute(text(statement))


def test_signer_refuses_an_inconsistent_history(runtime: Runtime) -> None:
    service.latest_note(runtime)
    _append(runtime, 2)
    # An operator with database rights rewrites the stored tree: the signer must refuse.
    with runtime.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_hash_append_only ON audit_hash"))
        else:
            conn.execute(text("DROP TRIGGER audit_hash_no_update"))
        conn.execute(text("UPDATE audit_hash SET hash = :h"), {"h": b"\x01" * 32})
    with pytest.raises(AuditError):
        _sign(runtime)


def test_a_running_scheduler_signs_with_the_rotated_key(runtime: Runtime) -> None:
    """After ``keys rotate --purpose audit`` the next checkpoint is signed with the new key."""
    scheduler = CheckpointScheduler(runtime.engine, origin="o/log",
                                    private_key=lambda: runtime.audit_key.private_key,
                                    every_entries=1, every_seconds=60)
    first = scheduler.tick(1.0)
    old = runtime.audit_key
    new = runtime.keys.rotate("audit")
    assert new.kid != old.kid
    _append(runtime, 1)
    second = scheduler.tick(2.0)
    assert first is not None and second is not None
    verify_note(first.note, verifier_key("o/log", old.private_key))
    verify_note(second.note, verifier_key("o/log", new.private_key))
    with pytest.raises(NoteError):
        verify_note(second.note, verifier_key("o/log", old.private_key))


def test_the_services_scheduler_follows_an_audit_key_rotation(runtime: Runtime) -> None:
    runtime.start_background()
    try:
        assert runtime.checkpoints is not None
        before = runtime.checkpoints.private_key.public_key().public_bytes_raw()
        runtime.keys.rotate("audit")
        after = runtime.checkpoints.private_key.public_key().public_bytes_raw()
        assert after != before
        assert after == runtime.audit_key.private_key.public_key().public_bytes_raw()
    finally:
        runtime.stop_background()


def test_scheduler_signs_every_n_entries_or_t_seconds(runtime: Runtime) -> None:
    scheduler = CheckpointScheduler(runtime.engine, origin="o/log",
                                    private_key=runtime.audit_key.private_key,
                                    every_entries=5, every_seconds=60)
    assert scheduler.tick(100.0) is not None  # nothing signed yet: sign at once
    _append(runtime, 4)
    assert scheduler.tick(101.0) is None  # 4 new < 5 and 1 s < 60 s
    _append(runtime, 1)
    signed = scheduler.tick(102.0)
    assert signed is not None and signed.size == 8
    _append(runtime, 1)
    assert scheduler.tick(130.0) is None
    signed = scheduler.tick(162.5)
    assert signed is not None and signed.size == 9
    assert scheduler.tick(300.0) is None  # nothing new
