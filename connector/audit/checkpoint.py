"""C2SP tlog-checkpoint note bodies (https://c2sp.org/tlog-checkpoint).

::

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 root hash>\\n
    [<extension line>\\n ...]

The body is what gets signed as a C2SP signed note (:mod:`connector.audit.note`). Parsing
is strict: every deviation raises :class:`CheckpointFormatError` naming the line.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from connector.audit.errors import CheckpointFormatError
from connector.audit.hashing import HASH_SIZE

MAX_TREE_SIZE = (1 << 63) - 1  # what every other tlog implementation can represent
_SIZE = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed statement of its size and root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (the text of a signed note), rejecting anything off-format."""
    if not text.endswith("\n"):
        raise CheckpointFormatError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointFormatError(
            f"checkpoint has {len(lines)} line(s); it needs origin, tree size and root hash")
    for number, line in enumerate(lines, start=1):
        if not line:
            raise CheckpointFormatError(f"checkpoint line {number} is empty")
        if _CONTROL.search(line):
            raise CheckpointFormatError(f"checkpoint line {number} contains a control character")
    origin, size_text, root_text, *extensions = lines
    return Checkpoint(origin=origin, size=_parse_size(size_text), root=_parse_root(root_text),
                      extensions=tuple(extensions))


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """Return the checkpoint body text; raises if the checkpoint cannot be written faithfully."""
    cp = checkpoint
    if not 0 <= cp.size <= MAX_TREE_SIZE:
        raise CheckpointFormatError(f"tree size {cp.size} is out of range")
    if len(cp.root) != HASH_SIZE:
        raise CheckpointFormatError(f"root hash is {len(cp.root)} bytes, expected {HASH_SIZE}")
    for what, line in [("origin", cp.origin)] + [("extension line", e) for e in cp.extensions]:
        if not line:
            raise CheckpointFormatError(f"{what} must not be empty")
        if _CONTROL.search(line):
            raise CheckpointFormatError(f"{what} {line!r} contains a control character")
    lines = [cp.origin, str(cp.size), base64.b64encode(cp.root).decode("ascii"), *cp.extensions]
    return "".join(line + "\n" for line in lines)


def _parse_size(text: str) -> int:
    if not _SIZE.fullmatch(text):
        raise CheckpointFormatError(
            f"checkpoint tree size {text!r} is not a decimal number without leading zeros")
    size = int(text)
    if size > MAX_TREE_SIZE:
        raise CheckpointFormatError(f"checkpoint tree size {text} is too large")
    return size


def _parse_root(text: str) -> bytes:
    try:
        root = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise CheckpointFormatError(f"checkpoint root hash {text!r} is not valid base64") from None
    if len(root) != HASH_SIZE:
        raise CheckpointFormatError(
            f"checkpoint root hash is {len(root)} bytes, expected {HASH_SIZE}")
    # Only one text per hash: reject non-zero padding bits and other aliases.
    if base64.b64encode(root).decode("ascii") != text:
        raise CheckpointFormatError(f"checkpoint root hash {text!r} is not canonical base64")
    return root
