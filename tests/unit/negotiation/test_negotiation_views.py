"""Paging cursors of the management reads (``negotiation/views.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.errors import BadRequest
from connector.negotiation import views


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    moment = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    assert views._decode(views._encode(moment, "urn:uuid:x")) == (moment, "urn:uuid:x")
    # SQLite hands back naive UTC: the cursor still compares as UTC.
    assert views._decode(views._encode(moment.replace(tzinfo=None), "y")) == (moment, "y")
    for bad in ("abc", "!!!", views._encode(moment, "x")[:-3] + "AAA", "WyJ4IiwgMV0"):
        with pytest.raises(BadRequest):
            views._decode(bad)
