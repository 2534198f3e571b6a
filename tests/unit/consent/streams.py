"""Feeding bytes to the consent stream functions in chunks of a chosen size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from connector.consent.rows import filter_csv


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    """``data`` in pieces of ``size`` bytes (the last one shorter)."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def filtered(data: bytes, size: int, allowed: frozenset[str]) -> bytes:
    """What the row filter lets out of the CSV ``data`` (subject column ``subject``)."""
    async def collect() -> bytes:
        return b"".join([c async for c in filter_csv(chunks(data, size), column="subject",
                                                     allowed=allowed)])
    return asyncio.run(collect())
