"""Offline verification of an exported audit log and of proofs fetched from a server.

An export is one audit entry per line. Each entry is RFC 8785 canonical JSON and carries its
own position as ``"index": i``, so verification can name the first damaged entry: a flipped
byte usually breaks canonical form, a deleted or swapped entry shows up as a wrong index.
What cannot be located that way (an edit that keeps the entry canonical, a rewritten and
re-indexed history) still fails, on the root hash.

Everything here is pure: the caller reads files or HTTP responses and passes bytes and text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785

from connector.audit.checkpoint import Checkpoint, parse_checkpoint
from connector.audit.errors import AuditError, ProofError, VerificationError
from connector.audit.hashing import EMPTY_ROOT, leaf_hash, root_from_leaves
from connector.audit.note import NoteVerifier, parse_verifier_key, verify_note
from connector.audit.proofs import verify_consistency, verify_inclusion

ENTRY_INDEX_FIELD = "index"


@dataclass(frozen=True)
class VerifyResult:
    """What a successful :func:`verify_log` established."""

    origin: str
    size: int
    root: bytes
    key: str
    previous_size: int | None = None


def encode_entry(index: int, event: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes of audit entry ``index`` recording ``event``.

    The entry is ``event`` plus ``"index": index``, in RFC 8785 canonical JSON.
    """
    if ENTRY_INDEX_FIELD in event and event[ENTRY_INDEX_FIELD] != index:
        raise ValueError(f"event already carries a different index {event[ENTRY_INDEX_FIELD]!r}")
    return rfc8785.dumps({**event, ENTRY_INDEX_FIELD: index})


def entries_from_export(data: bytes) -> list[bytes]:
    """Split an export file (one entry per line, each ending in a newline) into entries."""
    if not data:
        return []
    entries = data.split(b"\n")
    if entries[-1]:
        raise VerificationError("the export does not end with a newline: its last entry may "
                                "be truncated", index=len(entries) - 1)
    return entries[:-1]


def check_entry(index: int, entry: bytes) -> None:
    """Check ``entry`` is canonical JSON carrying ``"index": index``; raise naming it if not."""
    try:
        text = entry.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError(f"entry {index} is not valid UTF-8", index=index) from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise VerificationError(f"entry {index} is not valid JSON: {exc}", index=index) from None
    try:
        canonical = rfc8785.dumps(value)
    except (ValueError, TypeError, RecursionError):
        canonical = None
    if canonical != entry:
        raise VerificationError(f"entry {index} is not in canonical JSON form (RFC 8785): it "
                                "changed after it was written", index=index)
    if not isinstance(value, dict):
        raise VerificationError(f"entry {index} is not a JSON object", index=index)
    carried = value.get(ENTRY_INDEX_FIELD)
    if not isinstance(carried, int) or isinstance(carried, bool):
        raise VerificationError(f"entry {index} has no integer {ENTRY_INDEX_FIELD!r} field",
                                index=index)
    if carried != index:
        raise VerificationError(f"entry {index} carries index {carried}: entries are missing, "
                                "duplicated or out of order from here", index=index)


def verify_log(entries: Sequence[bytes], checkpoint_note: str, vkey: str,
               previous_note: str | None = None) -> VerifyResult:
    """Verify a whole exported log against its signed checkpoint, offline.

    Checks the checkpoint (and ``previous_note``, an older checkpoint the auditor kept) is
    signed by ``vkey``; that every entry is canonical and carries its own index; that the
    entry count is the checkpoint size; that the first ``previous.size`` entries hash to the
    previous root (the log only grew); and that all entries hash to the checkpoint root.
    Raises :class:`VerificationError` (``index`` = first bad entry where one can be named);
    a malformed ``vkey`` raises :class:`~connector.audit.errors.NoteError`.
    """
    verifier = parse_verifier_key(vkey)
    checkpoint = _open_checkpoint(checkpoint_note, verifier, "checkpoint")
    previous = None
    if previous_note is not None:
        previous = _open_checkpoint(previous_note, verifier, "previous checkpoint")
        _check_same_log(previous, checkpoint)
    for index, entry in enumerate(entries):
        check_entry(index, entry)
    if len(entries) != checkpoint.size:
        first_bad = min(len(entries), checkpoint.size)
        raise VerificationError(f"the checkpoint covers {checkpoint.size} entries but the "
                                f"export has {len(entries)}", index=first_bad)
    leaves = [leaf_hash(entry) for entry in entries]
    unchanged_before = 0
    if previous is not None:
        if root_from_leaves(leaves[:previous.size]) != previous.root:
            raise VerificationError(f"the first {previous.size} entries do not hash to the "
                                    "previous checkpoint's root: earlier history was rewritten")
        unchanged_before = previous.size
    if root_from_leaves(leaves) != checkpoint.root:
        where = f" at or after entry {unchanged_before}" if unchanged_before else ""
        raise VerificationError("every entry is well-formed, but the entries do not hash to "
                                f"the checkpoint's root: an entry{where} was altered or replaced")
    return VerifyResult(origin=checkpoint.origin, size=checkpoint.size, root=checkpoint.root,
                        key=f"{verifier.name}+{verifier.key_id.hex()}",
                        previous_size=None if previous is None else previous.size)


def verify_inclusion_against_note(entry_bytes: bytes, index: int, proof_hashes: Sequence[bytes],
                                  note: str, vkey: str) -> Checkpoint:
    """Check a server's inclusion proof for one entry against a signed checkpoint note.

    Returns the verified checkpoint; raises :class:`~connector.audit.errors.SignatureError`
    or :class:`ProofError`.
    """
    checkpoint = parse_checkpoint(verify_note(note, parse_verifier_key(vkey)))
    verify_inclusion(leaf_hash(entry_bytes), index, checkpoint.size, proof_hashes,
                     checkpoint.root)
    return checkpoint


def verify_consistency_against_notes(old_note: str, new_note: str,
                                     proof_hashes: Sequence[bytes], vkey: str) -> Checkpoint:
    """Check a server's consistency proof between two signed checkpoints of the same log.

    An old checkpoint of the empty tree is consistent with anything (with an empty proof).
    Returns the new, verified checkpoint; raises as :func:`verify_inclusion_against_note`.
    """
    verifier = parse_verifier_key(vkey)
    old = parse_checkpoint(verify_note(old_note, verifier))
    new = parse_checkpoint(verify_note(new_note, verifier))
    if old.origin != new.origin:
        raise ProofError(f"checkpoints are for different logs: {old.origin!r} and "
                         f"{new.origin!r}")
    if old.size == 0 and new.size > 0:
        if proof_hashes or old.root != EMPTY_ROOT:
            raise ProofError("a checkpoint of the empty tree needs the empty root and no proof")
        return new
    verify_consistency(old.size, new.size, proof_hashes, old.root, new.root)
    return new


def _open_checkpoint(note: str, verifier: NoteVerifier, what: str) -> Checkpoint:
    try:
        return parse_checkpoint(verify_note(note, verifier))
    except AuditError as exc:
        raise VerificationError(f"{what}: {exc.detail}") from exc


def _check_same_log(previous: Checkpoint, checkpoint: Checkpoint) -> None:
    if previous.origin != checkpoint.origin:
        raise VerificationError(f"the previous checkpoint is for log {previous.origin!r}, "
                                f"not {checkpoint.origin!r}")
    if previous.size > checkpoint.size:
        raise VerificationError(f"the previous checkpoint has size {previous.size}, larger than "
                                f"the checkpoint's {checkpoint.size}: the log shrank")
    if previous.size == 0 and previous.root != EMPTY_ROOT:
        raise VerificationError("the previous checkpoint of the empty log has a non-empty root")
