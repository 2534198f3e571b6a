"""Keyset cursors: opaque, round-tripping, and refused when forged."""

from __future__ import annotations

import pytest

from connector.catalog.cursor import Cursor, decode, encode
from connector.errors import BadRequest


@pytest.mark.parametrize("key", ["CAT0101", "urn:dataset:pm-sensor-x", "a/b?c=d&e", "ü"])
def test_round_trip(key: str) -> None:
    assert decode(encode("after", key)) == Cursor("after", key)
    assert decode(encode("before", key)) == Cursor("before", key)
    assert "=" not in encode("after", key)


def test_none_and_empty_mean_the_first_page() -> None:
    assert decode(None) is None and decode("") is None


@pytest.mark.parametrize("cursor", ["!!", "eDpZ", "YTo", "//8", "123"])
def test_forged_cursors_are_bad_requests(cursor: str) -> None:
    with pytest.raises(BadRequest):
        decode(cursor)
