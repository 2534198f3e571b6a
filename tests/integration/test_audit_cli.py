"""``connector audit verify`` on a real exported log, and on every kind of tampering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from connector.audit import log as audit_log
from connector.audit import service
from connector.audit.checkpoint import Checkpoint, format_checkpoint
from connector.audit.hashing import leaf_hash, root_from_leaves
from connector.audit.note import sign_note
from connector.audit.signer import sign_checkpoint, verifier_key
from connector.cli import app
from connector.config import Settings
from connector.runtime import Runtime


@pytest.fixture
def exported(tmp_path: Path) -> Iterator[dict[str, Path | str]]:
    runtime = Runtime.start(Settings(data_dir=tmp_path / "data"))
    old_note = service.latest_note(runtime)
    for i in range(20):
        with runtime.engine.begin() as conn:
            audit_log.append(conn, [{"type": "transfer.completed", "transfer": f"t{i}",
                                     "bytes": i * 100, "participant": "did:web:p.example"}])
    with runtime.engine.begin() as conn:
        note = sign_checkpoint(conn, origin=runtime.settings.audit_origin,
                               private_key=runtime.audit_key.private_key).note
    entries = tmp_path / "entries.jsonl"
    entries.write_bytes(b"".join(service.export(runtime.engine, 23)))
    (tmp_path / "checkpoint.txt").write_text(note)
    (tmp_path / "old.txt").write_text(old_note)
    vkey = verifier_key(runtime.settings.audit_origin, runtime.audit_key.private_key)
    (tmp_path / "key.vkey").write_text(vkey + "\n")
    runtime.close()
    yield {"entries": entries, "checkpoint": tmp_path / "checkpoint.txt",
           "old": tmp_path / "old.txt", "key": tmp_path / "key.vkey", "vkey": vkey,
           "origin": runtime.settings.audit_origin}


def _verify(paths: dict[str, Path | str], entries: bytes | None = None,
            checkpoint: str | None = None, previous: bool = True) -> tuple[int, dict]:
    if entries is not None:
        Path(paths["entries"]).write_bytes(entries)
    if checkpoint is not None:
        Path(paths["checkpoint"]).write_text(checkpoint)
    args = ["audit", "verify", "--entries", str(paths["entries"]), "--checkpoint",
            str(paths["checkpoint"]), "--key", str(paths["key"])]
    if previous:
        args += ["--previous", str(paths["old"])]
    result = CliRunner().invoke(app, args)
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_an_untouched_export_verifies(exported: dict[str, Path | str]) -> None:
    code, out = _verify(exported)
    assert code == 0 and out["ok"] and out["size"] == 23 and out["previous_size"] == 3


def test_key_may_be_given_inline(exported: dict[str, Path | str]) -> None:
    exported = {**exported, "key": exported["vkey"]}
    assert _verify(exported)[0] == 0


@pytest.mark.parametrize("index", [0, 5, 22])
def test_a_flipped_byte_fails_and_names_the_entry(exported: dict[str, Path | str],
                                                  index: int) -> None:
    lines = Path(exported["entries"]).read_bytes().splitlines(keepends=True)
    line = bytearray(lines[index])
    line[0] ^= 0x01  # "{" becomes "z": no longer JSON
    lines[index] = bytes(line)
    code, out = _verify(exported, b"".join(lines))
    assert code == 1 and not out["ok"] and out["error"].startswith(f"entry {index}:")


def test_an_edited_value_fails_on_the_root(exported: dict[str, Path | str]) -> None:
    data = Path(exported["entries"]).read_bytes().replace(b'"bytes":700', b'"bytes":701')
    code, out = _verify(exported, data)
    assert code == 1 and "root" in out["error"] and "at or after entry 3" in out["error"]


def test_a_deleted_entry_is_named(exported: dict[str, Path | str]) -> None:
    lines = Path(exported["entries"]).read_bytes().splitlines(keepends=True)
    del lines[7]
    code, out = _verify(exported, b"".join(lines))
    assert code == 1 and out["error"].startswith("entry 7:")


def test_two_reordered_entries_are_named(exported: dict[str, Path | str]) -> None:
    lines = Path(exported["entries"]).read_bytes().splitlines(keepends=True)
    lines[10], lines[11] = lines[11], lines[10]
    code, out = _verify(exported, b"".join(lines))
    assert code == 1 and out["error"].startswith("entry 10:")


def test_rewritten_history_resigned_with_another_key_fails(exported: dict[str, Path | str],
                                                           ) -> None:
    lines = Path(exported["entries"]).read_bytes().splitlines()
    forged = [line.replace(b'"bytes":1200', b'"bytes":1') for line in lines]
    root = root_from_leaves([leaf_hash(line) for line in forged])
    other = Ed25519PrivateKey.generate()
    note = sign_note(format_checkpoint(Checkpoint(str(exported["origin"]), len(forged), root)),
                     str(exported["origin"]), other)
    code, out = _verify(exported, b"\n".join(forged) + b"\n", note)
    assert code == 1 and "signature" in out["error"]


def test_rewritten_history_resigned_with_our_key_breaks_the_saved_checkpoint(
        exported: dict[str, Path | str], tmp_path: Path) -> None:
    """Even the operator's own key cannot rewrite what an auditor saw in an older checkpoint."""
    lines = Path(exported["entries"]).read_bytes().splitlines()
    forged = [lines[0].replace(b'"key.created"', b'"key.rotated"'), *lines[1:]]
    runtime = Runtime.start(Settings(data_dir=tmp_path / "data"))  # the fixture's data dir
    key = runtime.audit_key.private_key
    runtime.close()
    root = root_from_leaves([leaf_hash(line) for line in forged])
    note = sign_note(format_checkpoint(Checkpoint(str(exported["origin"]), len(forged), root)),
                     str(exported["origin"]), key)
    code, out = _verify(exported, b"\n".join(forged) + b"\n", note)
    assert code == 1 and "rewritten" in out["error"]


def test_a_truncated_export_fails(exported: dict[str, Path | str]) -> None:
    data = Path(exported["entries"]).read_bytes()
    code, out = _verify(exported, data[:-5])
    assert code == 1 and not out["ok"]


def test_missing_files_are_reported(exported: dict[str, Path | str], tmp_path: Path) -> None:
    code, out = _verify({**exported, "entries": tmp_path / "nope.jsonl"})
    assert code == 1 and "cannot read" in out["error"]
