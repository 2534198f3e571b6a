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
        allowed: frozenset[str] = frozenset()
        aggregate = None
        if runtime is not None and dataset.subject_column:
            with Session(runtime.engine) as session:
                agreement = session.get(Agreement, agreement_id) if agreement_id else None
                purpose = agreement.purpose if agreement is not None else None
                allowed = allowed_subjects(session, dataset=dataset, recipient=participant,
                                           purpose=purpose)
                aggregate = aggregate_duty(agreement)
        rows = filter_csv(chunks, column=dataset.subject_column or "\0", allowed=allowed)
        if aggregate is None:
            return rows
        return aggregate_csv(rows, subject_column=dataset.subject_column or "",
                             k=int(aggregate["k"]), group_by=aggregate.get("group_by") or [])
