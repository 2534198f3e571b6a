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
from connector.negotiation.models import Agreement


def allowed_subjects(session: Session, *, dataset: Dataset, recipient: str,
                     purpose: str | None) -> frozenset[str]:
    """Subject keys whose rows ``recipient`` may receive for ``purpose`` now."""
    if purpose is None:
        return frozenset()  # consent is always for a purpose: no purpose, no rows
    views = service.valid_consents(session, dataset=dataset.id, recipient=recipient,
                                   purpose=purpose)
    return service.subjects_with_consent(views)


async def filter_csv(chunks: AsyncIterator[bytes], *, column: str,
                     allowed: frozenset[str]) -> AsyncIterator[bytes]:
    """The CSV in ``chunks`` with only the header and the rows whose ``column`` is allowed."""
    pending = b""
    index: int | None = None
    header_done = False
    async for data in chunks:
        pending += data
        lines = pending.split(b"\n")
        pending = lines.pop()
        out: list[bytes] = []
        for line in lines:
            if not header_done:
                names = next(csv.reader([line.decode("utf-8").rstrip("\r")]), [])
                index = names.index(column) if column in names else None
                header_done = True
                out.append(line + b"\n")
                continue
            if index is None or not line:
                continue
            fields = next(csv.reader([line.decode("utf-8").rstrip("\r")]), [])
            if len(fields) > index and fields[index] in allowed:
                out.append(line + b"\n")
        if out:
            yield b"".join(out)
    if pending and header_done and index is not None:
        fields = next(csv.reader([pending.decode("utf-8").rstrip("\r")]), [])
        if len(fields) > index and fields[index] in allowed:
            yield pending


class ConsentRowFilter:
    """The data plane's row filter for personal data (``transfer.dataplane.RowFilter``)."""

    def applies(self, dataset: Dataset) -> bool:
        """Personal data always goes through the filter."""
        return bool(dataset.personal_data)

    def filter(self, chunks: AsyncIterator[bytes], *, dataset: Dataset, participant: str,
               runtime: Any = None, agreement_id: str | None = None) -> AsyncIterator[bytes]:
        """Only the rows of subjects with valid consent for this recipient and purpose."""
        allowed: frozenset[str] = frozenset()
        if runtime is not None and dataset.subject_column:
            with Session(runtime.engine) as session:
                agreement = session.get(Agreement, agreement_id) if agreement_id else None
                purpose = agreement.purpose if agreement is not None else None
                allowed = allowed_subjects(session, dataset=dataset, recipient=participant,
                                           purpose=purpose)
        return filter_csv(chunks, column=dataset.subject_column or "\0", allowed=allowed)
