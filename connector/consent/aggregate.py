"""Aggregate-only offers: a CSV turned into aggregates over groups of at least k data subjects.

An agreement with the duty ``{"type": "aggregate_only", "k": k, "group_by": [...]}`` never
serves a row. The rows that pass the consent filter are grouped by the ``group_by`` columns
(none: one group over all rows); each group yields one line::

    <group_by columns...>,subjects,rows,<m>_sum,<m>_mean,...

where ``subjects`` is the number of distinct data subjects in the group and each measure ``m``
is a column (other than the subject and group columns) whose every value is a number. A group
with fewer than ``k`` subjects is left out (small groups could single a household out), and so
is every column that is neither a group column nor a measure (e.g. a meter id: it identifies a
subject). Memory grows with the number of groups and the subjects in them, not with the rows.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("connector.consent")


class AggregationRefused(ValueError):
    """The data cannot be aggregated as the agreement says (a named column is missing)."""


@dataclass
class _Group:
    subjects: set[str] = field(default_factory=set)
    rows: int = 0
    sums: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return format(value, ".10g")


class Aggregator:
    """Feeds CSV rows (header first) into groups; ``lines()`` gives the aggregate CSV."""

    def __init__(self, *, subject_column: str, k: int, group_by: Sequence[str],
                 subject_of: Mapping[str, str] | None = None) -> None:
        self.subject_column, self.k, self.group_by = subject_column, k, list(group_by)
        self.subject_of = subject_of or {}
        self.header: list[str] | None = None
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._not_numbers: set[int] = set()

    def add(self, row: list[str]) -> None:
        if self.header is None:
            missing = [c for c in (self.subject_column, *self.group_by) if c not in row]
            if missing:
                raise AggregationRefused(f"the data has no column {missing[0]!r}")
            self.header = row
            self._subject = row.index(self.subject_column)
            self._keys = [row.index(c) for c in self.group_by]
            self._candidates = [i for i in range(len(row))
                                if i != self._subject and i not in self._keys]
            return
        if len(row) != len(self.header):
            return  # a short or long row cannot be placed in its columns
        key = tuple(row[i] for i in self._keys)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        held_by = row[self._subject]
        group.subjects.add(self.subject_of.get(held_by, held_by))
        group.rows += 1
        for i in self._candidates:
            if i in self._not_numbers or row[i] == "":
                continue
            value = _number(row[i])
            if value is None:
                self._not_numbers.add(i)
                continue
            group.sums[i] = group.sums.get(i, 0.0) + value
            group.counts[i] = group.counts.get(i, 0) + 1

    def lines(self) -> list[list[str]]:
        """The aggregate CSV rows, header first (no header: no input at all)."""
        if self.header is None:
            return []
        measures = [i for i in self._candidates if i not in self._not_numbers]
        out = [[*self.group_by, "subjects", "rows",
                *(f"{self.header[i]}_{what}" for i in measures for what in ("sum", "mean"))]]
        for key in sorted(self._groups):
            group = self._groups[key]
            if len(group.subjects) < self.k:
                continue
            cells = [*key, str(len(group.subjects)), str(group.rows)]
            for i in measures:
                count = group.counts.get(i, 0)
                total = group.sums.get(i, 0.0)
                cells += [_fmt(total), _fmt(total / count) if count else ""]
            out.append(cells)
        return out


def _texts(lines: Sequence[bytes]) -> list[str]:
    out = []
    for line in lines:
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError:
            continue
    return out


class _Sink:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


async def aggregate_csv(chunks: AsyncIterator[bytes], *, subject_column: str, k: int,
                        group_by: Sequence[str], subject_of: Mapping[str, str] | None = None,
                        ) -> AsyncIterator[bytes]:
    """The aggregates of the CSV in ``chunks`` (see the module's docstring), at the end.

    ``subject_of`` maps a subject-column value (a key, e.g. a meter id) to its data subject;
    groups are counted in data subjects. A line that is not UTF-8 is left out.
    """
    aggregator = Aggregator(subject_column=subject_column, k=k, group_by=group_by,
                            subject_of=subject_of)
    pending = b""
    async for data in chunks:
        pending += data
        *complete, pending = pending.split(b"\n")
        for row in csv.reader(_texts(complete)):
            aggregator.add(row)
    if pending.strip():
        for row in csv.reader(_texts([pending])):
            aggregator.add(row)
    sink = _Sink()
    csv.writer(sink, lineterminator="\n").writerows(aggregator.lines())
    if sink.parts:
        yield "".join(sink.parts).encode()
