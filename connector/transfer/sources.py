"""Where a transfer's bytes come from, read in chunks: a file, an HTTP origin, SQL rows.

Memory stays constant whatever the size: a file is read ``transfer_chunk_bytes`` at a time in a
worker thread (the next chunk is read while the current one is sent), an HTTP origin is relayed
as it arrives, SQL rows come from the catalog's reader (``catalog.sources.open_stream``) as CSV.
A file serves one byte range (RFC 9110 §14); an HTTP origin gets the ``Range`` passed on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import httpx

from connector.catalog.models import Dataset
from connector.catalog.sources import open_stream
from connector.runtime import Runtime
from connector.transfer.errors import (
    RangeNotSatisfiable,
    SourceFailed,
    SourceMissing,
    SourceRefused,
)

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


class Truncated(Exception):
    """The source failed after the response started: the stream ends early, incomplete."""


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range of a resource of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range ``header`` asks for, or None for the whole resource.

    Anything but one ``bytes=`` range (several ranges, other units, bad syntax, first > last)
    is ignored and the whole resource is served, as RFC 9110 §14.2 allows. A range starting
    past the end raises ``RangeNotSatisfiable``.
    """
    match = _RANGE.fullmatch(header or "")
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable("an empty suffix range selects nothing", size=size)
        return ByteRange(max(size - suffix, 0), size - 1, size)
    first = int(match[1])
    if match[2] and int(match[2]) < first:
        return None
    last = int(match[2]) if match[2] else size - 1
    if first >= size:
        raise RangeNotSatisfiable(f"the range starts at {first}, the data has {size} bytes",
                                  size=size)
    return ByteRange(first, min(last, size - 1), size)


@dataclass
class Opened:
    """A source ready to stream: what to answer, the chunks to send, how to let go of it."""

    status: int
    media_type: str
    length: int | None
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]
    release: Callable[[], Awaitable[None]]


def file_path(data_dir: Path, source: str) -> Path:
    """The dataset file under ``data_dir``; refuse a path that escapes it."""
    root = data_dir.resolve()
    path = (root / source).resolve()
    if not source or not path.is_relative_to(root):
        raise SourceRefused("the dataset's file path escapes the data directory")
    if not path.is_file():
        raise SourceMissing("the dataset's file does not exist")
    return path


def open_file(path: Path, *, range_header: str | None, chunk: int,
              tap: Callable[[bytes], None] | None) -> Opened:
    """Stream ``path`` (or one range of it).

    ``tap`` sees each chunk once the receiver took it (the generator was resumed after
    yielding it), in the reading thread, so a stream cut short counts only what left.
    """
    try:
        size = path.stat().st_size
        wanted = parse_range(range_header, size)
        start, length = (wanted.start, wanted.length) if wanted else (0, size)
        handle = path.open("rb")
        handle.seek(start)
    except OSError as exc:
        raise SourceFailed(f"the dataset's file cannot be read: {exc.strerror}") from None
    pending: list[asyncio.Future[bytes]] = []

    def read(n: int, handed: list[bytes]) -> bytes:
        # The chunks handed over since the last read are hashed here, off the event loop,
        # while the chunk after them is being sent.
        if tap is not None:
            for data in handed:
                tap(data)
        return handle.read(n) if n else b""

    async def chunks() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        remaining, handed = length, list[bytes]()
        if remaining > 0:
            pending.append(loop.run_in_executor(None, read, min(chunk, remaining), []))
        while pending:
            try:
                # Shielded: a cancelled stream leaves the read in ``pending`` for release().
                data = await asyncio.shield(pending[0])
            except OSError as exc:
                raise Truncated(f"the file could not be read: {exc.strerror}") from None
            pending.pop(0)
            if not data:
                raise Truncated("the file became shorter while it was read")
            remaining -= len(data)
            if remaining > 0:
                pending.append(loop.run_in_executor(None, read, min(chunk, remaining), handed))
                handed = []
            yield data
            handed.append(data)  # resumed: the receiver took it
        if handed:
            await loop.run_in_executor(None, read, 0, handed)

    async def release() -> None:
        # A read still running in its thread must finish before the file is closed.
        await asyncio.gather(*pending, return_exceptions=True)
        handle.close()

    headers = {"Accept-Ranges": "bytes"}
    if wanted:
        headers["Content-Range"] = wanted.content_range()
    return Opened(206 if wanted else 200, "", length, headers, chunks(), release)


async def open_http(url: str, *, range_header: str | None, timeout: float,
                    headers: dict[str, str] | None = None, chunk: int = 65536) -> Opened:
    """Relay an HTTP GET of ``url``; a ``Range`` is passed on and a 206 relayed."""
    client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    request_headers = dict(headers or {})
    if range_header:
        request_headers["Range"] = range_header
    try:
        response = await client.send(client.build_request("GET", url, headers=request_headers),
                                     stream=True)
    except httpx.HTTPError as exc:
        await client.aclose()
        raise SourceFailed(f"the origin could not be reached: {type(exc).__name__}") from None
    if response.status_code not in (200, 206):
        body = (await response.aread())[:2000]
        await response.aclose()
        await client.aclose()
        raise UpstreamStatus(response.status_code, body, response.headers.get("content-type"))

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for data in response.aiter_bytes(chunk):
                yield data
        except httpx.HTTPError as exc:
            raise Truncated(f"the origin failed mid-stream: {type(exc).__name__}") from None

    async def release() -> None:
        await response.aclose()
        await client.aclose()

    out_headers: dict[str, str] = {}
    ranged = response.status_code == 206 and "content-range" in response.headers
    if ranged:
        out_headers["Content-Range"] = response.headers["content-range"]
    declared = response.headers.get("content-length")
    length = int(declared) if declared and declared.isdigit() \
        and "content-encoding" not in response.headers else None
    media_type = response.headers.get("content-type", "")
    return Opened(206 if ranged else 200, media_type, length, out_headers, chunks(), release)


class UpstreamStatus(Exception):
    """An HTTP origin answered something other than 200/206."""

    def __init__(self, status: int, body: bytes, content_type: str | None) -> None:
        super().__init__(f"the origin answered HTTP {status}")
        self.status = status
        self.body = body
        self.content_type = content_type


def open_sql(runtime: Runtime, dataset: Dataset) -> Opened:
    """Relay the CSV rows of a SQL-backed dataset (``catalog.sources``); no ranges, no length."""
    stream = open_stream(runtime, dataset)

    async def chunks() -> AsyncIterator[bytes]:
        while (data := await anyio.to_thread.run_sync(next, stream, None)) is not None:
            yield data

    async def release() -> None:
        await anyio.to_thread.run_sync(stream.close)

    return Opened(200, stream.media_type, None, {}, chunks(), release)
