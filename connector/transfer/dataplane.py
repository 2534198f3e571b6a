"""The bytes of a transfer as they leave: sources opened for a dataset, the row-filter hook, and
the :class:`Meter` that sees exactly the bytes that left (after any row filter) and gives their
SHA-256 and count when the stream ends.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import anyio.to_thread

from connector.catalog.models import Dataset
from connector.consent.rows import ConsentRowFilter
from connector.runtime import Runtime
from connector.transfer.errors import SourceFailed, SourceNotImplemented
from connector.transfer.sources import (
    Opened,
    UpstreamStatus,
    file_path,
    open_file,
    open_http,
    open_sql,
)

if TYPE_CHECKING:
    from hashlib import _Hash


class Meter:
    """SHA-256 and count of the bytes that left; ``complete`` once the last one did.

    A chunk may be hashed before it leaves (:meth:`ahead`, in the thread that read it, so the
    hashing of the next chunks overlaps the sending of this one) and is counted once it left
    (:meth:`left`). The digest reported is the hash state right after the last chunk that
    left, kept as a copy per chunk hashed ahead (a few, so memory stays constant): a stream cut
    short records exactly the bytes that left, never the ones read ahead.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._ahead: deque[tuple[int, _Hash]] = deque()
        self._at = self._sha.copy()
        self._before: tuple[int, _Hash] | None = None
        self.bytes = 0
        self.complete = False

    def ahead(self, data: bytes) -> None:
        """Hash ``data``, which leaves next after the chunks hashed ahead before it."""
        self._sha.update(data)
        self._ahead.append((len(data), self._sha.copy()))

    def left(self) -> None:
        """The oldest chunk hashed ahead left: count it."""
        size, state = self._ahead.popleft()
        self._before = (self.bytes, self._at)
        self.bytes += size
        self._at = state

    def update(self, data: bytes) -> None:
        """``data`` left: hash and count it."""
        self.ahead(data)
        self.left()

    def take_back(self) -> None:
        """The chunk counted last did not leave after all (its send failed): uncount it.

        The stream ends there: nothing is counted after this.
        """
        if self._before is not None:
            self.bytes, self._at = self._before
            self._before = None

    @property
    def sha256(self) -> str:
        return self._at.hexdigest()


class RowFilter(Protocol):
    """Drops the rows a recipient may not see (personal data without consent: issue 6)."""

    def applies(self, dataset: Dataset) -> bool:
        """Whether this dataset's bytes go through :meth:`filter` (then no ranges, no length)."""
        ...

    def filter(self, chunks: AsyncIterator[bytes], *, dataset: Dataset, participant: str,
               runtime: Any = None, agreement_id: str | None = None) -> AsyncIterator[bytes]:
        """The chunks with the rows ``participant`` may not receive removed."""
        ...


class PassThrough:
    """The row filter until issue 6: every row passes."""

    def applies(self, dataset: Dataset) -> bool:
        return False

    def filter(self, chunks: AsyncIterator[bytes], *, dataset: Dataset, participant: str,
               runtime: Any = None, agreement_id: str | None = None) -> AsyncIterator[bytes]:
        return chunks


#: The row filter in force: personal data passes only for subjects with valid consent.
row_filter: RowFilter = ConsentRowFilter()


async def open_dataset(dataset: Dataset, *, runtime: Runtime, range_header: str | None,
                       meter: Meter, participant: str,
                       agreement_id: str | None = None) -> Opened:
    """Open ``dataset``'s bytes for ``participant``, metered (after the row filter, if any)."""
    settings = runtime.settings
    filtering = row_filter.applies(dataset)
    if filtering:
        range_header = None
    if dataset.source_kind == "file":
        path = file_path(settings.data_dir, dataset.source)
        opened = open_file(path, range_header=range_header, chunk=settings.transfer_chunk_bytes,
                           tap=None if filtering else meter)
    elif dataset.source_kind == "http":
        try:
            opened = await open_http(dataset.source, range_header=range_header,
                                     timeout=settings.http_source_timeout,
                                     chunk=settings.transfer_chunk_bytes)
        except UpstreamStatus as exc:
            raise SourceFailed(f"the dataset's origin answered HTTP {exc.status}") from None
    elif dataset.source_kind == "sql":
        opened = await anyio.to_thread.run_sync(open_sql, runtime, dataset)
    else:
        raise SourceNotImplemented(f"{dataset.source_kind!r} sources are not served by the "
                                   "data plane")
    opened.media_type = dataset.media_type or opened.media_type or "application/octet-stream"
    if filtering:
        opened.chunks = row_filter.filter(opened.chunks, dataset=dataset,
                                          participant=participant, runtime=runtime,
                                          agreement_id=agreement_id)
        opened.length = None
    if filtering or dataset.source_kind != "file":
        opened.chunks = metered(opened.chunks, meter)
    return opened


async def metered(chunks: AsyncIterator[bytes], meter: Meter) -> AsyncIterator[bytes]:
    """``chunks``, each counted once the receiver took it (the generator is resumed)."""
    async for data in chunks:
        yield data
        meter.update(data)
