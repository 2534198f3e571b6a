"""The row filter's fast path (bytes split) decides exactly as the csv module would."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.consent.rows import MAX_RECORD_BYTES, RowsUnreadable
from tests.unit.consent.streams import filtered

FIELD = st.text(alphabet=st.sampled_from(list('ab,"é x\n')), max_size=6)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(FIELD, st.sampled_from(["s1", "s2", "s,3", 's"4', "é5",
                                                     "s\n6"]),
                               FIELD), max_size=30),
       allowed=st.sets(st.sampled_from(["s1", "s2", "s,3", 's"4', "é5", "s\n6"])),
       crlf=st.booleans(), size=st.integers(1, 40))
def test_filter_keeps_exactly_the_rows_the_csv_module_reads_as_allowed(
        rows: list[tuple[str, str, str]], allowed: set[str], crlf: bool, size: int) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n" if crlf else "\n").writerows(
        [("before", "subject", "after"), *rows])
    data = text.getvalue().encode()
    out = filtered(data, size, frozenset(allowed)).decode()
    kept = list(csv.reader(io.StringIO(out)))
    assert kept[0] == ["before", "subject", "after"]
    assert kept[1:] == [list(row) for row in rows if row[1] in allowed]


def test_a_row_that_is_not_utf8_is_dropped() -> None:
    data = b'id,subject\n1,"s1\xff"\n2,s1\n'
    assert filtered(data, 5, frozenset({"s1"})) == b"id,subject\n2,s1\n"


@pytest.mark.parametrize("data", [
    b'subject,note\nalice,"5 inch\nbob,secret-bob\ncarol,secret-carol\n',
    b'subject,note\nalice,"5 inch\nbob,secret-bob\ncarol,secret-carol',
    b'subject,note\nalice,"x\nbob,secret\ncarol,y"z\n',
])
def test_an_unclosed_or_malformed_quote_never_lets_other_rows_out(data: bytes) -> None:
    out = filtered(data, 7, frozenset({"alice"}))
    assert b"secret" not in out and out.startswith(b"subject,note\n")


def test_a_quoted_field_past_the_limit_ends_the_stream() -> None:
    data = b'subject,note\nalice,"' + b"x\n" * (MAX_RECORD_BYTES // 2 + 10) + b'"\n'
    with pytest.raises(RowsUnreadable):
        filtered(data, 65536, frozenset({"alice"}))


def test_a_closed_multi_line_last_record_without_newline_is_judged() -> None:
    data = b'subject,note\nalice,"a\nb"'
    assert filtered(data, 3, frozenset({"alice"})) == b'subject,note\nalice,"a\nb"'
