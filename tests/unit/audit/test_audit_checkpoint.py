"""Tests for connector.audit.checkpoint: C2SP tlog-checkpoint bodies."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.audit.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    format_checkpoint,
    parse_checkpoint,
)
from connector.audit.errors import CheckpointFormatError

# The example checkpoint of https://c2sp.org/tlog-checkpoint (body only).
C2SP_EXAMPLE = ("example.com/behind-the-sofa\n20852163\n"
                "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


def test_parses_the_c2sp_example() -> None:
    cp = parse_checkpoint(C2SP_EXAMPLE)
    assert cp == Checkpoint(origin="example.com/behind-the-sofa", size=20852163, root=ROOT)
    assert format_checkpoint(cp) == C2SP_EXAMPLE


def test_extension_lines_round_trip() -> None:
    text = C2SP_EXAMPLE + "timestamp 1700000000\nsecond extension\n"
    cp = parse_checkpoint(text)
    assert cp.extensions == ("timestamp 1700000000", "second extension")
    assert format_checkpoint(cp) == text


def test_empty_tree() -> None:
    root = base64.b64encode(bytes(32)).decode()
    assert parse_checkpoint(f"log\n0\n{root}\n").size == 0


@pytest.mark.parametrize(("text", "message"), [
    (C2SP_EXAMPLE[:-1], "must end with a newline"),
    ("origin\n5\n", "has 2 line\\(s\\)"),
    ("", "must end with a newline"),
    ("\n5\n" + C2SP_EXAMPLE.split("\n")[2] + "\n", "line 1 is empty"),
    (C2SP_EXAMPLE + "\n", "line 4 is empty"),
    (C2SP_EXAMPLE.replace("\n", "\r\n", 1), "line 1 contains a control character"),
    (C2SP_EXAMPLE.replace("20852163", "020852163"), "not a decimal number without leading"),
    (C2SP_EXAMPLE.replace("20852163", "+20852163"), "not a decimal number"),
    (C2SP_EXAMPLE.replace("20852163", "20_852_163"), "not a decimal number"),
    (C2SP_EXAMPLE.replace("20852163", "\uff12\uff10"), "not a decimal number"),  # fullwidth
    (C2SP_EXAMPLE.replace("20852163", " 20852163"), "not a decimal number"),
    (C2SP_EXAMPLE.replace("20852163", str(2**63)), "too large"),
    (C2SP_EXAMPLE.replace("CsUY", "CsU*"), "not valid base64"),
    (C2SP_EXAMPLE.replace("CsUY", "CsUé"), "not valid base64"),
    (C2SP_EXAMPLE.replace("q2I=", "q2I"), "not valid base64"),
    (C2SP_EXAMPLE.replace("q2I=", "q2J="), "not canonical base64"),
    (C2SP_EXAMPLE.replace("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "AAAA"), "is 3 bytes"),
])
def test_malformed_checkpoints_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CheckpointFormatError, match=message):
        parse_checkpoint(text)


@pytest.mark.parametrize(("cp", "message"), [
    (Checkpoint("", 1, ROOT), "origin must not be empty"),
    (Checkpoint("a\nb", 1, ROOT), "contains a control character"),
    (Checkpoint("log", -1, ROOT), "tree size -1 is out of range"),
    (Checkpoint("log", MAX_TREE_SIZE + 1, ROOT), "out of range"),
    (Checkpoint("log", 1, ROOT[:16]), "root hash is 16 bytes"),
    (Checkpoint("log", 1, ROOT, ("",)), "extension line must not be empty"),
    (Checkpoint("log", 1, ROOT, ("x\ny",)), "contains a control character"),
])
def test_format_refuses_what_it_cannot_write(cp: Checkpoint, message: str) -> None:
    with pytest.raises(CheckpointFormatError, match=message):
        format_checkpoint(cp)


LINE = st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), min_size=1,
               max_size=30)


@given(origin=LINE, size=st.integers(min_value=0, max_value=MAX_TREE_SIZE),
       root=st.binary(min_size=32, max_size=32), extensions=st.lists(LINE, max_size=3))
def test_format_then_parse_round_trips(origin: str, size: int, root: bytes,
                                       extensions: list[str]) -> None:
    cp = Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))
    assert parse_checkpoint(format_checkpoint(cp)) == cp


@given(st.text(max_size=120))
def test_parse_never_fails_any_other_way(text: str) -> None:
    try:
        cp = parse_checkpoint(text)
    except CheckpointFormatError:
        return
    assert format_checkpoint(cp) == text
