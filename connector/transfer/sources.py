"""Where a transfer's bytes come from, read in chunks: a file, an HTTP origin, SQL rows.

Memory stays constant whatever the size: a file is read ``transfer_chunk_bytes`` at a time by a
thread of its own, a few chunks ahead of the one being sent (and hashed there, see ``Tap``), an
HTTP origin is relayed as it arrives, SQL rows come from the catalog's reader
(``catalog.sources.open_stream``) as CSV.
A file serves one byte range (RFC 9110 §14); an HTTP origin gets the ``Range`` passed on.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

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


class Tap(Protocol):
    """What sees a file's bytes: each chunk as it is read, then each chunk as it leaves."""

    def ahead(self, data: bytes) -> None:
        """``data`` was read and will be sent next; called in the reading thread, in order."""
        ...

    def left(self) -> None:
        """The oldest chunk given to :meth:`ahead` left (the receiver took it)."""
        ...


#: Chunks read (and hashed) ahead of the one being sent: slack so that neither the reading
#: thread nor the sender waits for the other at every chunk. Memory per stream stays at about
#: READ_AHEAD + 2 chunks whatever the size; of 1, 2 and 3, 2 measured best
#: (``scripts/bench/dsp.py streaming``, 2 cores).
READ_AHEAD = 2


class _ReadAhead:
    """Reads a file's chunks in a thread of its own, at most ``depth`` ahead of the sender.

    The thread hands each chunk to ``tap.ahead`` before passing it on, so SHA-256 of the next
    chunks runs on another core while this one is sent (hashlib releases the GIL); ``tap.left``
    is called once the receiver took a chunk (the generator was resumed after yielding it).
    The thread runs on its own instead of one executor call per chunk so that it never idles
    waiting for the event loop to schedule its next read; it closes the file when it ends.
    """

    def __init__(self, handle: BinaryIO, length: int, chunk: int, tap: Tap | None,
                 depth: int) -> None:
        self._handle, self._length, self._chunk, self._tap = handle, length, chunk, tap
        self._room = threading.Semaphore(depth)
        self._stop = False
        self._ready: deque[bytes | Truncated] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] | None = None

    def _run(self, loop: asyncio.AbstractEventLoop, ended: asyncio.Future[None]) -> None:
        unread = self._length
        try:
            while unread > 0:
                self._room.acquire()
                if self._stop:
                    return
                data = self._handle.read(min(self._chunk, unread))
                if not data:
                    raise Truncated("the file became shorter while it was read")
                if self._tap is not None:
                    self._tap.ahead(data)
                unread -= len(data)
                self._post(loop, data)
        except OSError as exc:
            self._post(loop, Truncated(f"the file could not be read: {exc.strerror}"))
        except Truncated as exc:
            self._post(loop, exc)
        except Exception as exc:  # noqa: BLE001 - the sender must not wait for ever
            self._post(loop, Truncated(f"the file could not be read: {exc!r}"))
        finally:
            self._handle.close()
            self._post(loop, None, ended)

    def _post(self, loop: asyncio.AbstractEventLoop, item: bytes | Truncated | None,
              ended: asyncio.Future[None] | None = None) -> None:
        try:
            loop.call_soon_threadsafe(self._arrive, item, ended)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    def _arrive(self, item: bytes | Truncated | None, ended: asyncio.Future[None] | None) -> None:
        if item is not None:
            self._ready.append(item)
        if ended is not None and not ended.done():
            ended.set_result(None)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._length <= 0:
            return
        loop = asyncio.get_running_loop()
        self._ended = loop.create_future()
        threading.Thread(target=self._run, args=(loop, self._ended), name="file-read",
                         daemon=True).start()
        sent = 0
        while sent < self._length:
            while not self._ready:
                if self._ended.done():
                    raise Truncated("the file reader stopped")
                self._wake = loop.create_future()
                await self._wake
            data = self._ready.popleft()
            if isinstance(data, Truncated):
                raise data
            self._room.release()
            sent += len(data)
            yield data
            if self._tap is not None:
                self._tap.left()

    async def close(self) -> None:
        """Stop the reading thread and wait until it has closed the file."""
        if self._ended is None:
            self._handle.close()
            return
        self._stop = True
        self._room.release()
        await asyncio.wait({self._ended})


def open_file(path: Path, *, range_header: str | None, chunk: int, tap: Tap | None,
              depth: int = READ_AHEAD) -> Opened:
    """Stream ``path`` (or one range of it), reading up to ``depth`` chunks ahead.

    ``tap`` sees each chunk as it is read (``ahead``, in the reading thread) and again once the
    receiver took it (``left``: the generator was resumed after yielding it), so a stream cut
    short counts only what left.
    """
    try:
        size = path.stat().st_size
        wanted = parse_range(range_header, size)
        start, length = (wanted.start, wanted.length) if wanted else (0, size)
        handle = path.open("rb")
        handle.seek(start)
    except OSError as exc:
        raise SourceFailed(f"the dataset's file cannot be read: {exc.strerror}") from None
    reader = _ReadAhead(handle, length, chunk, tap, depth)
    headers = {"Accept-Ranges": "bytes"}
    if wanted:
        headers["Content-Range"] = wanted.content_range()
    return Opened(206 if wanted else 200, "", length, headers, reader.chunks(), reader.close)


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
