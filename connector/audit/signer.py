"""Signing checkpoints: the tree head as a C2SP tlog-checkpoint, in a C2SP signed note (Ed25519).

The signer refuses to sign a tree that is not an extension of the last signed one: it rebuilds
the consistency proof from the stored hashes and verifies it against the previous root first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from connector.audit import storage
from connector.audit.checkpoint import Checkpoint, format_checkpoint, parse_checkpoint
from connector.audit.errors import AuditError
from connector.audit.hashing import tree_hash
from connector.audit.note import format_verifier_key, parse_note, sign_note
from connector.audit.proofs import consistency_proof, verify_consistency

SIGN_LOCK_ID = 0x444F417564697400  # one signer at a time across replicas (PostgreSQL)
log = logging.getLogger("connector.audit")


def verifier_key(origin: str, private_key: Ed25519PrivateKey) -> str:
    """The C2SP vkey (``name+keyid+base64``) auditors verify our checkpoints with."""
    return format_verifier_key(origin, private_key.public_key())


def sign_checkpoint(conn: Connection, *, origin: str, private_key: Ed25519PrivateKey,
                    now: datetime | None = None) -> storage.CheckpointRow:
    """Sign the current tree unless the latest checkpoint already covers it; return the latest.

    Raises :class:`AuditError` if the current tree does not extend the last signed one.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SIGN_LOCK_ID})
    size = storage.tree_size(conn)
    latest = storage.latest_checkpoint(conn)
    if latest is not None and latest.size == size:
        return latest

    def read(indexes: list[int]) -> list[bytes]:
        return storage.read_hashes(conn, indexes)

    root = tree_hash(size, read)
    if latest is not None:
        if latest.size > size:
            raise AuditError(f"the log shrank from {latest.size} to {size} entries")
        signed = parse_checkpoint(parse_note(latest.note).text)
        if signed.root != latest.root or signed.size != latest.size:
            raise AuditError("the stored checkpoint does not match its signed note")
        if latest.size > 0:
            verify_consistency(latest.size, size, consistency_proof(latest.size, size, read),
                               latest.root, root)
    note = sign_note(format_checkpoint(Checkpoint(origin=origin, size=size, root=root)),
                     origin, private_key)
    row = storage.CheckpointRow(size=size, root=root, note=note,
                                created_at=(now or datetime.now(UTC)))
    storage.insert_checkpoint(conn, row)
    return row


class CheckpointScheduler:
    """Signs a checkpoint every ``every_entries`` new entries or ``every_seconds`` seconds."""

    def __init__(self, engine: Engine, *, origin: str,
                 private_key: Ed25519PrivateKey | Callable[[], Ed25519PrivateKey],
                 every_entries: int, every_seconds: float) -> None:
        """``private_key`` may be a function giving the key to sign with now (a service
        passes one that reads the current audit key, so a rotation takes effect at once)."""
        self.engine = engine
        self.origin = origin
        self._key = private_key
        self.every_entries = every_entries
        self.every_seconds = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_signed = 0.0

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The key the next checkpoint is signed with."""
        return self._key if isinstance(self._key, Ed25519PrivateKey) else self._key()

    def tick(self, monotonic_now: float) -> storage.CheckpointRow | None:
        """Sign if due; return the new checkpoint or None."""
        with self.engine.connect() as conn:
            size = storage.tree_size(conn)
            latest = storage.latest_checkpoint(conn)
        signed_size = -1 if latest is None else latest.size
        if size == signed_size:
            return None
        due = (latest is None or size - signed_size >= self.every_entries
               or monotonic_now - self._last_signed >= self.every_seconds)
        if not due:
            return None
        with self.engine.begin() as conn:
            row = sign_checkpoint(conn, origin=self.origin, private_key=self.private_key)
        self._last_signed = monotonic_now
        return row

    def start(self) -> None:
        """Run ``tick`` in a daemon thread until ``stop``."""

        def loop() -> None:
            while not self._stop.wait(min(1.0, self.every_seconds)):
                try:
                    self.tick(time.monotonic())
                except Exception:
                    log.exception("checkpoint signing failed")

        self._thread = threading.Thread(target=loop, name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then sign what is still unsigned (a clean shutdown leaves none)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self._last_signed = float("-inf")
            self.tick(time.monotonic())
        except Exception:
            log.exception("final checkpoint signing failed")
