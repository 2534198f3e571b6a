"""Row filtering of personal data: only rows of subjects whose consent is valid right now.

A personal-data dataset names the column holding the subject key. At every pull the filter
reads which subjects have a valid consent for this recipient and purpose at this moment, and
lets through only their rows (and the header). A dataset without a subject column serves no
rows at all: it fails closed.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from typing import Any

from sqlmodel import Session

from connector.catalog.models import Dataset
from connector.consent import service
from connector.consent.aggregate import aggregate_csv
from connector.negotiation.models import Agreement


def allowed_subjects(session: Session, *, dataset: Dataset, recipient: str,
                     purpose: str | None) -> dict[str, str]:
    """Subject keys whose rows ``recipient`` may receive for ``purpose`` now, each with the
    data subject it belongs to (one person may consent for several keys, e.g. meters)."""
    if purpose is None:
        return {}  # consent is always for a purpose: no purpose, no rows
    views = service.valid_consents(session, dataset=dataset.id, recipient=recipient,
                                   purpose=purpose)
    return service.keys_with_consent(views)


def _subject_of(line: bytes, index: int) -> bytes | None:
    """The ``index``-th field of a CSV line (UTF-8 bytes, no line end); None if it has none.

    Hot (once per row): a line without quotes is split on commas as bytes, which is what the
    csv module does with it; a quoted line goes through the csv module.
    """
    if line.endswith(b"\r"):
        line = line[:-1]
    if b'"' not in line and b"\r" not in line:
        fields = line.split(b",", index + 1)
        return fields[index] if len(fields) > index else None
    try:
        # strict: an unterminated quote is an error, not a field running to the end
        parsed = next(csv.reader([line.decode("utf-8")], strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        return None  # a row that cannot be read cannot be shown to be allowed
    return parsed[index].encode() if len(parsed) > index else None


async def filter_csv(chunks: AsyncIterator[bytes], *, column: str,
                     allowed: frozenset[str]) -> AsyncIterator[bytes]:
    """The CSV in ``chunks`` with only the header and the rows whose ``column`` is allowed.

    Rows are judged a block of whole lines at a time: a block without quotes or carriage
    returns (the common case) is split on commas as bytes in one comprehension; any other goes
    line by line, keeping a record whose quoted field spans lines together until it closes.
    """
    wanted = frozenset(value.encode() for value in allowed)
    pending = b""
    state = _LineState()
    index: int | None = None
    header_done = False
    async for data in chunks:
        pending += data
        cut = pending.rfind(b"\n")
        if cut < 0:
            continue
        block = pending[:cut]
        pending = pending[cut + 1:]
        out: list[bytes] = []
        rows = True
        if not header_done:
            header, more, block = block.partition(b"\n")
            names = next(csv.reader([header.decode("utf-8").rstrip("\r")]), [])
            index = names.index(column) if column in names else None
            header_done = True
            out.append(header + b"\n")
            rows = bool(more)
        # An empty block is one empty line: a row of nothing, or a line of an open record.
        if index is not None and rows:
            out.extend(state.kept(block, index, wanted))
        if out:
            yield b"".join(out)
    if header_done and index is not None:
        last = state.finish(pending)
        if last and _subject_of(last, index) in wanted:
            yield last


class RowsUnreadable(ValueError):
    """A quoted field runs past the record limit: where rows end can no longer be told."""


#: A record whose quoted field spans lines is held until its quotes close, up to this size;
#: beyond it the stream ends (fails closed) rather than judge lines inside a field as rows.
MAX_RECORD_BYTES = 1 << 20


class _LineState:
    """Judges blocks of whole lines; remembers a multi-line record across blocks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []  # the lines of an open record (its quotes not closed)
        self.size = 0

    def _hold(self, line: bytes) -> None:
        self.parts.append(line)
        self.size += len(line) + 1
        if self.size > MAX_RECORD_BYTES:
            raise RowsUnreadable(f"a quoted field runs past {MAX_RECORD_BYTES} bytes")

    def kept(self, block: bytes, index: int, wanted: frozenset[bytes]) -> list[bytes]:
        """The allowed rows of ``block`` (whole lines, no final line end), each with ``\\n``."""
        if not self.parts and b'"' not in block and b"\r" not in block:
            width = index + 1
            rows = [line for line in block.split(b"\n")
                    if len(fields := line.split(b",", width)) > index and fields[index] in wanted]
            return [b"\n".join(rows) + b"\n"] if rows else []
        out = []
        for line in block.split(b"\n"):
            if b'"' in line and line.count(b'"') % 2:  # a quoted field opens or closes
                self._hold(line)
                if len(self.parts) == 1:
                    continue
                line = b"\n".join(self.parts)
                self.parts, self.size = [], 0
            elif self.parts:
                self._hold(line)
                continue
            if line and _subject_of(line, index) in wanted:
                out.append(line + b"\n")
        return out

    def finish(self, rest: bytes) -> bytes:
        """The last row: ``rest`` (after the final line end); nothing if a record is still
        open (its quote never closes: the csv module would read the rest as one field)."""
        if not self.parts:
            return rest
        if rest.count(b'"') % 2:  # the last line closes the record
            return b"\n".join([*self.parts, rest])
        return b""


def aggregate_duty(agreement: Agreement | None) -> dict[str, Any] | None:
    """The agreement's ``aggregate_only`` duty, if it has one."""
    duties = ((agreement.normalised or {}).get("duties") or []) if agreement else []
    return next((dict(d) for d in duties if d.get("type") == "aggregate_only"), None)


class ConsentRowFilter:
    """The data plane's row filter for personal data (``transfer.dataplane.RowFilter``)."""

    def applies(self, dataset: Dataset) -> bool:
        """Personal data always goes through the filter."""
        return bool(dataset.personal_data)

    def filter(self, chunks: AsyncIterator[bytes], *, dataset: Dataset, participant: str,
               runtime: Any = None, agreement_id: str | None = None) -> AsyncIterator[bytes]:
        """Only the rows of subjects with valid consent for this recipient and purpose.

        Under an aggregate-only agreement, only the aggregates of those rows (``aggregate``).
        """
        allowed: dict[str, str] = {}
        aggregate = None
        if runtime is not None and dataset.subject_column:
            with Session(runtime.engine) as session:
                agreement = session.get(Agreement, agreement_id) if agreement_id else None
                purpose = agreement.purpose if agreement is not None else None
                allowed = allowed_subjects(session, dataset=dataset, recipient=participant,
                                           purpose=purpose)
                aggregate = aggregate_duty(agreement)
        rows = filter_csv(chunks, column=dataset.subject_column or "\0",
                          allowed=frozenset(allowed))
        if aggregate is None:
            return rows
        # Groups count data subjects, not keys: one household's three meters are one subject.
        return aggregate_csv(rows, subject_column=dataset.subject_column or "",
                             k=int(aggregate["k"]), group_by=aggregate.get("group_by") or [],
                             subject_of=allowed)
