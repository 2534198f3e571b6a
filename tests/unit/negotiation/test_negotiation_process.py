"""Reasons on the wire and process ids (``negotiation/process.py``)."""

from __future__ import annotations

from connector.negotiation.process import new_pid, reasons_in, reasons_out


def test_reasons_round_trip_through_code_prefixed_strings() -> None:
    reasons = [{"code": "purpose_not_allowed", "message": "not for marketing"},
               {"message": "plain"}, {"code": "only_code"}]
    wire = reasons_out(reasons)
    assert wire == ["purpose_not_allowed: not for marketing", "plain", "only_code"]
    assert reasons_in(wire) == [{"code": "purpose_not_allowed", "message": "not for marketing"},
                                {"message": "plain"}, {"message": "only_code"}]
    assert reasons_in([{"@value": "x"}, 3]) == [{"@value": "x"}, {"message": "3"}]
    assert reasons_out([]) == ["terminated"] and reasons_in(None) == []


def test_new_pids_are_urn_uuids() -> None:
    first, second = new_pid(), new_pid()
    assert first.startswith("urn:uuid:") and len(first) == 45 and first != second
