"""Tests for connector.audit.verify: offline verification of exports, proofs and checkpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.audit.checkpoint import Checkpoint, format_checkpoint
from connector.audit.errors import ProofError, SignatureError, VerificationError
from connector.audit.hashing import (
    EMPTY_ROOT,
    leaf_hash,
    root_from_leaves,
    stored_hashes_for_append,
)
from connector.audit.note import format_verifier_key, sign_note
from connector.audit.proofs import consistency_proof, inclusion_proof
from connector.audit.verify import (
    VerifyResult,
    check_entry,
    encode_entry,
    entries_from_export,
    verify_consistency_against_notes,
    verify_inclusion_against_note,
    verify_log,
)

ORIGIN = "dodata.example/audit"
KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
VKEY = format_verifier_key(ORIGIN, KEY.public_key())
MALLORY = Ed25519PrivateKey.from_private_bytes(b"\x66" * 32)


def event(i: int) -> dict[str, Any]:
    return {"type": "transfer.completed", "time": f"2026-11-28T12:{i % 60:02d}:00Z",
            "transfer": f"urn:uuid:transfer-{i}", "dataset": "urn:dataset:air-quality",
            "participant": "did:web:partner.example", "bytes": 1000 + i,
            "sha256": f"{i:064x}", "note": "Lindemannstraße 11"}


ENTRIES = [encode_entry(i, event(i)) for i in range(40)]
PREVIOUS_SIZE = 25


def note_for(entries: list[bytes], key: Ed25519PrivateKey = KEY, origin: str = ORIGIN,
             name: str = ORIGIN) -> str:
    root = root_from_leaves([leaf_hash(e) for e in entries])
    return sign_note(format_checkpoint(Checkpoint(origin, len(entries), root)), name, key)


CHECKPOINT = note_for(ENTRIES)
PREVIOUS = note_for(ENTRIES[:PREVIOUS_SIZE])


class MemoryStore:
    def __init__(self, entries: list[bytes]) -> None:
        self.hashes: list[bytes] = []
        for n, entry in enumerate(entries):
            self.hashes.extend(stored_hashes_for_append(n, leaf_hash(entry), self.read))

    def read(self, indexes: list[int]) -> list[bytes]:
        return [self.hashes[i] for i in indexes]


STORE = MemoryStore(ENTRIES)


def failure(entries: list[bytes], checkpoint: str = CHECKPOINT, previous: str | None = PREVIOUS
            ) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_log(entries, checkpoint, VKEY, previous)
    return caught.value


def test_an_intact_log_verifies() -> None:
    result = verify_log(ENTRIES, CHECKPOINT, VKEY, PREVIOUS)
    assert result == VerifyResult(origin=ORIGIN, size=40, root=root_from_leaves(
        [leaf_hash(e) for e in ENTRIES]), key=VKEY.rsplit("+", 1)[0], previous_size=25)
    assert verify_log(ENTRIES, CHECKPOINT, VKEY).previous_size is None
    assert verify_log(ENTRIES, CHECKPOINT, VKEY, CHECKPOINT).previous_size == 40
    assert verify_log([], note_for([]), VKEY, note_for([])).size == 0


def test_entries_are_canonical_and_carry_their_index() -> None:
    assert ENTRIES[3] == rfc8785.dumps({**event(3), "index": 3})
    assert json.loads(ENTRIES[3])["index"] == 3
    assert encode_entry(5, {"index": 5, "a": 1}) == b'{"a":1,"index":5}'
    with pytest.raises(ValueError, match="different index"):
        encode_entry(5, {"index": 4})


def test_export_files_split_into_entries() -> None:
    data = b"".join(e + b"\n" for e in ENTRIES)
    assert entries_from_export(data) == ENTRIES
    assert entries_from_export(b"") == []
    with pytest.raises(VerificationError, match="does not end with a newline") as caught:
        entries_from_export(data[:-5])
    assert caught.value.index == 39


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_flipped_byte_fails_and_is_named_when_it_can_be(data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(ENTRIES) - 1), label="entry")
    at = data.draw(st.integers(min_value=0, max_value=len(ENTRIES[index]) - 1), label="byte")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    entry = bytearray(ENTRIES[index])
    entry[at] ^= mask
    entries = [*ENTRIES[:index], bytes(entry), *ENTRIES[index + 1:]]
    well_formed = True
    try:
        check_entry(index, bytes(entry))
    except VerificationError:
        well_formed = False
    err = failure(entries)
    if well_formed:  # e.g. a letter changed inside a string: only the root can tell
        assert err.index is None
        assert "do not hash to" in err.detail
    else:
        assert err.index == index
        assert f"entry {index} " in err.detail


def test_structural_byte_flips_are_named() -> None:
    entry = ENTRIES[7]
    index_digit = entry.index(b'"index":7') + len(b'"index":')
    structural, in_string = {index_digit}, False
    for at, char in enumerate(entry.decode("latin-1")):
        in_string ^= char == '"'
        if char == '"' or (char in "{}:," and not in_string):
            structural.add(at)
    for at in range(len(entry)):
        flipped = bytearray(entry)
        flipped[at] ^= 0x01
        err = failure([*ENTRIES[:7], bytes(flipped), *ENTRIES[8:]])
        assert err.index in (7, None)
        if at in structural:
            assert err.index == 7, chr(entry[at])


def test_a_canonical_edit_fails_on_the_root_and_is_bounded_by_the_previous_checkpoint() -> None:
    edited = encode_entry(30, {**event(30), "bytes": 1})
    err = failure([*ENTRIES[:30], edited, *ENTRIES[31:]])
    assert err.index is None
    assert "at or after entry 25 was altered or replaced" in err.detail
    edited = encode_entry(3, {**event(3), "bytes": 1})
    err = failure([*ENTRIES[:3], edited, *ENTRIES[4:]])
    assert "first 25 entries do not hash to the previous checkpoint's root" in err.detail
    err = failure([*ENTRIES[:3], edited, *ENTRIES[4:]], previous=None)
    assert "an entry was altered or replaced" in err.detail


@pytest.mark.parametrize("gone", range(len(ENTRIES)))
def test_a_deleted_entry_is_named(gone: int) -> None:
    err = failure([*ENTRIES[:gone], *ENTRIES[gone + 1:]])
    assert err.index == gone
    if gone < len(ENTRIES) - 1:
        assert f"entry {gone} carries index {gone + 1}" in err.detail
    else:
        assert "covers 40 entries but the export has 39" in err.detail


def test_any_two_reordered_entries_are_named() -> None:
    for i in range(len(ENTRIES)):
        for j in range(i + 1, len(ENTRIES)):
            entries = list(ENTRIES)
            entries[i], entries[j] = entries[j], entries[i]
            err = failure(entries)
            assert err.index == i
            assert f"entry {i} carries index {j}" in err.detail


def test_duplicated_and_extra_entries_are_named() -> None:
    assert failure([*ENTRIES[:10], ENTRIES[9], *ENTRIES[10:]]).index == 10
    err = failure([*ENTRIES, encode_entry(40, event(40))])
    assert err.index == 40
    assert "covers 40 entries but the export has 41" in err.detail


def test_history_rewritten_and_re_signed_with_another_key_fails() -> None:
    forged = [*ENTRIES[:3], encode_entry(3, {**event(3), "participant": "did:web:x"}),
              *ENTRIES[4:]]
    for name in (ORIGIN, "mallory.example/audit"):
        err = failure(forged, checkpoint=note_for(forged, MALLORY, name=name), previous=None)
        assert "checkpoint: note has no signature from key dodata.example/audit+" in err.detail
        assert isinstance(err.__cause__, SignatureError)


def test_history_rewritten_by_the_log_itself_fails_against_a_kept_checkpoint() -> None:
    # The operator's own key re-signs a rewritten (re-indexed, well-formed) history; the
    # auditor's older checkpoint still catches it.
    rewritten = [encode_entry(i, event(i + 1)) for i in range(39)]
    err = failure(rewritten, checkpoint=note_for(rewritten))
    assert "first 25 entries do not hash to the previous checkpoint's root" in err.detail


@pytest.mark.parametrize(("checkpoint", "previous", "message"), [
    (note_for(ENTRIES[:20]), PREVIOUS, "previous checkpoint has size 25, larger than the "
                                       "checkpoint's 20: the log shrank"),
    (CHECKPOINT, note_for(ENTRIES[:25], origin="other.example/log"),
     "previous checkpoint is for log 'other.example/log'"),
    (CHECKPOINT, note_for(ENTRIES[:25], MALLORY), "previous checkpoint: note has no signature"),
    (CHECKPOINT, sign_note(f"{ORIGIN}\n0\n{'A' * 43}=\n", ORIGIN, KEY), "empty log has a non"),
    (sign_note("just one line\n", ORIGIN, KEY), None, "checkpoint: checkpoint has 1 line"),
    ("not a note", None, "checkpoint: note has no blank line"),
])
def test_checkpoint_problems(checkpoint: str, previous: str | None, message: str) -> None:
    assert message in failure(ENTRIES, checkpoint, previous).detail


@pytest.mark.parametrize(("entry", "message"), [
    (b"\xff", "entry 0 is not valid UTF-8"),
    (b'{"index":0', "entry 0 is not valid JSON"),
    (b'{"index": 0}', "entry 0 is not in canonical JSON form"),
    (b'{"index":0,"index":0}', "not in canonical JSON form"),
    (b'{"index":0,"x":NaN}', "not in canonical JSON form"),
    (b'{"index":0,"x":9007199254740993}', "not in canonical JSON form"),
    (b'{"index":0,"x":1.0}', "not in canonical JSON form"),
    (b"[0]", "entry 0 is not a JSON object"),
    (b'{"type":"x"}', "entry 0 has no integer 'index' field"),
    (b'{"index":"0"}', "no integer 'index' field"),
    (b'{"index":false}', "no integer 'index' field"),
    (b'{"index":1}', "entry 0 carries index 1"),
    (b"[" * 100000, "not valid JSON"),
])
def test_entry_rules(entry: bytes, message: str) -> None:
    with pytest.raises(VerificationError, match=message) as caught:
        check_entry(0, entry)
    assert caught.value.index == 0


def test_inclusion_proofs_from_a_server_verify_for_every_entry() -> None:
    for size in (1, 2, 25, 40):
        note = note_for(ENTRIES[:size])
        for index in range(size):
            proof = inclusion_proof(index, size, STORE.read)
            cp = verify_inclusion_against_note(ENTRIES[index], index, proof, note, VKEY)
            assert (cp.origin, cp.size) == (ORIGIN, size)
    proof = inclusion_proof(7, 40, STORE.read)
    with pytest.raises(ProofError, match="does not lead to the root hash"):
        verify_inclusion_against_note(ENTRIES[8], 7, proof, CHECKPOINT, VKEY)
    with pytest.raises(ProofError, match="leaf index 40 is not below tree size 40"):
        verify_inclusion_against_note(ENTRIES[7], 40, proof, CHECKPOINT, VKEY)
    with pytest.raises(SignatureError):
        verify_inclusion_against_note(ENTRIES[7], 7, proof, note_for(ENTRIES, MALLORY), VKEY)


def test_consistency_proofs_between_signed_checkpoints() -> None:
    for size1 in range(1, 41):
        proof = consistency_proof(size1, 40, STORE.read)
        cp = verify_consistency_against_notes(note_for(ENTRIES[:size1]), CHECKPOINT, proof, VKEY)
        assert cp.size == 40
    assert verify_consistency_against_notes(note_for([]), CHECKPOINT, [], VKEY).size == 40
    empty = sign_note(format_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT)), ORIGIN, KEY)
    with pytest.raises(ProofError, match="empty tree needs the empty root and no proof"):
        verify_consistency_against_notes(empty, CHECKPOINT, [EMPTY_ROOT], VKEY)
    proof = consistency_proof(25, 40, STORE.read)
    with pytest.raises(ProofError, match="different logs"):
        verify_consistency_against_notes(note_for(ENTRIES[:25], origin="x"), CHECKPOINT, proof,
                                         VKEY)
    forged = [*ENTRIES[:3], encode_entry(3, {"forged": True}), *ENTRIES[4:25]]
    with pytest.raises(ProofError, match="root hash of the tree of size 25"):
        verify_consistency_against_notes(note_for(forged), CHECKPOINT, proof, VKEY)
    with pytest.raises(ProofError, match="larger than second tree size"):
        verify_consistency_against_notes(CHECKPOINT, PREVIOUS, proof, VKEY)
