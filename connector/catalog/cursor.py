"""Opaque keyset cursors: the id a page ends (or starts) at, and which way the next page goes.

A cursor is ``base64url("a:" + id)`` (the page after ``id``) or ``base64url("b:" + id)`` (the
page before it). Pages are ordered by id, so a cursor stays valid while rows come and go.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from connector.errors import BadRequest


@dataclass(frozen=True)
class Cursor:
    direction: Literal["after", "before"]
    key: str


def encode(direction: Literal["after", "before"], key: str) -> str:
    """The cursor of the page ``direction`` of ``key``."""
    raw = ("a:" if direction == "after" else "b:") + key
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode(cursor: str | None) -> Cursor | None:
    """The cursor handed out by :func:`encode`; ``BadRequest`` for anything else."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("cursor is not one this connector handed out") from None
    prefix, _, key = raw.partition(":")
    if prefix not in ("a", "b") or not key:
        raise BadRequest("cursor is not one this connector handed out")
    return Cursor("after" if prefix == "a" else "before", key)
