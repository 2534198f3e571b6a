"""Aggregate-only serving: groups of at least k subjects, never a row, never an identifier."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.consent.aggregate import AggregationRefused, aggregate_csv
from connector.consent.subjects import SubjectsUnknown, subjects_in
from tests.unit.consent.streams import chunks


def run(data: bytes, *, k: int, group_by: list[str], size: int = 7) -> list[list[str]]:
    async def collect() -> bytes:
        return b"".join([c async for c in aggregate_csv(
            chunks(data, size), subject_column="subject", k=k, group_by=group_by)])
    return list(csv.reader(io.StringIO(asyncio.run(collect()).decode())))


ROWS = (b"meter,subject,zone,t,kwh\n"
        b"m1,s1,north,0,1.5\nm2,s2,north,0,2.5\nm3,s3,south,0,4\n"
        b"m1,s1,north,1,1\nm2,s2,north,1,1\nm3,s3,south,1,1\n")


def test_groups_below_k_are_left_out_and_identifiers_never_leave() -> None:
    out = run(ROWS, k=2, group_by=["zone"])
    assert out == [["zone", "subjects", "rows", "t_sum", "t_mean", "kwh_sum", "kwh_mean"],
                   ["north", "2", "4", "2", "0.5", "6", "1.5"]]


def test_without_grouping_one_group_over_everything() -> None:
    assert run(ROWS, k=3, group_by=[]) == [
        ["subjects", "rows", "t_sum", "t_mean", "kwh_sum", "kwh_mean"],
        ["3", "6", "3", "0.5", "11", "1.833333333"]]
    assert run(ROWS, k=4, group_by=[]) == [["subjects", "rows", "t_sum", "t_mean", "kwh_sum",
                                            "kwh_mean"]]


def test_groups_count_data_subjects_not_keys() -> None:
    data = b"meter,kwh\nm1,1\nm2,2\nm3,5\n"

    async def collect(owner: dict[str, str]) -> str:
        return b"".join([c async for c in aggregate_csv(
            chunks(data, 4), subject_column="meter", k=3, group_by=[],
            subject_of=owner)]).decode()

    # three meters of one household: one subject, below k
    assert asyncio.run(collect({"m1": "alice", "m2": "alice", "m3": "alice"})) == \
        "subjects,rows,kwh_sum,kwh_mean\n"
    assert asyncio.run(collect({"m1": "a", "m2": "b", "m3": "c"})).splitlines()[1] == \
        "3,3,8,2.666666667"


def test_a_missing_group_column_is_refused() -> None:
    with pytest.raises(AggregationRefused, match="district"):
        run(ROWS, k=2, group_by=["district"])


def test_empty_input_gives_nothing() -> None:
    assert run(b"", k=2, group_by=[]) == []


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 3),
                               st.integers(0, 1000)), max_size=80),
       k=st.integers(2, 5), size=st.integers(1, 50))
def test_every_group_served_has_k_subjects_and_exact_sums(rows: list[tuple[int, int, int]],
                                                          k: int, size: int) -> None:
    data = b"meter,subject,slot,wh\n" + b"".join(
        b"mtr-%d,subj-%d,slot-%d,%d\n" % (s, s, g, v) for s, g, v in rows)
    out = run(data, k=k, group_by=["slot"], size=size)
    expected: dict[str, tuple[set[int], int, int]] = {}
    for s, g, v in rows:
        subjects, count, total = expected.get(f"slot-{g}", (set(), 0, 0))
        expected[f"slot-{g}"] = (subjects | {s}, count + 1, total + v)
    served = {line[0]: line for line in out[1:]}
    assert set(served) == {g for g, (subjects, _, _) in expected.items() if len(subjects) >= k}
    for group, line in served.items():
        subjects, count, total = expected[group]
        assert line[1:4] == [str(len(subjects)), str(count), format(float(total), ".10g")]
    text = "\n".join(",".join(line) for line in out)
    assert "subj-" not in text and "mtr-" not in text


def test_subjects_in_reads_the_distinct_subject_column() -> None:
    assert subjects_in([ROWS[:10], ROWS[10:]], "subject") == {"s1", "s2", "s3"}
    assert subjects_in([], "subject") == frozenset()
    with pytest.raises(SubjectsUnknown):
        subjects_in([b"a,b\n1,2\n"], "subject")
