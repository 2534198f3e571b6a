"""Where our messages go and what they carry (``negotiation/outgoing.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.config import Settings
from connector.dsp.messages import ContractRequestMessage, dump_message, parse_message
from connector.errors import Conflict
from connector.negotiation import outgoing
from connector.negotiation.machine import CONSUMER, PROVIDER
from connector.negotiation.models import Negotiation
from connector.negotiation.offers import PURPOSE, purpose_of

THEM = "https://them.example/dsp/2025-1"


def _neg(role: str, **fields: Any) -> Negotiation:
    values: dict[str, Any] = {
        "id": "urn:uuid:ours", "role": role, "counterparty": "did:web:them.example",
        "counterparty_address": THEM + "/", "dataset_id": "urn:d:1", "state": "REQUESTED",
        "offer": {"@id": "urn:o:1", "@type": "Offer", "target": "urn:d:1",
                  "permission": [{"action": "use"}]}}
    if role == PROVIDER:
        values.update(provider_pid="urn:uuid:ours", consumer_pid="urn:uuid:theirs")
    else:
        values.update(consumer_pid="urn:uuid:ours", provider_pid="urn:uuid:theirs")
    values.update(fields)
    return Negotiation(**values)


@pytest.mark.parametrize(("role", "message", "url"), [
    (PROVIDER, outgoing.offer(_neg(PROVIDER), _neg(PROVIDER).offer),
     THEM + "/negotiations/urn:uuid:theirs/offers"),
    (PROVIDER, outgoing.agreement(_neg(PROVIDER), {
        "@id": "urn:a:1", "@type": "Agreement", "target": "urn:d:1", "assigner": "a",
        "assignee": "b", "timestamp": "2026-11-28T12:00:00Z",
        "permission": [{"action": "use"}]}),
     THEM + "/negotiations/urn:uuid:theirs/agreement"),
    (PROVIDER, outgoing.event(_neg(PROVIDER), "FINALIZED"),
     THEM + "/negotiations/urn:uuid:theirs/events"),
    (PROVIDER, outgoing.termination(_neg(PROVIDER), None, ["x"]),
     THEM + "/negotiations/urn:uuid:theirs/termination"),
    (PROVIDER, outgoing.first_offer(_neg(PROVIDER, consumer_pid=None), Settings(),
                                    _neg(PROVIDER).offer),
     THEM + "/negotiations/offers"),
    (CONSUMER, outgoing.verification(_neg(CONSUMER)),
     THEM + "/negotiations/urn:uuid:theirs/agreement/verification"),
    (CONSUMER, outgoing.event(_neg(CONSUMER), "ACCEPTED"),
     THEM + "/negotiations/urn:uuid:theirs/events"),
    (CONSUMER, outgoing.request(_neg(CONSUMER), Settings(), initial=True),
     THEM + "/negotiations/request"),
    (CONSUMER, outgoing.request(_neg(CONSUMER), Settings(), initial=False),
     THEM + "/negotiations/urn:uuid:theirs/request"),
])
def test_messages_go_to_the_other_sides_path(role: str, message: Any, url: str) -> None:
    assert outgoing._url(_neg(role), message) == url


def test_requests_carry_callback_or_provider_pid_and_the_purpose() -> None:
    settings = Settings(public_url="https://us.example/")
    first = outgoing.request(_neg(CONSUMER, purpose="research"), settings, initial=True)
    later = outgoing.request(_neg(CONSUMER), settings, initial=False)
    assert first.callback_address == "https://us.example/dsp/2025-1"
    assert first.provider_pid is None and (first.model_extra or {})[PURPOSE] == "research"
    assert later.provider_pid == "urn:uuid:theirs" and later.callback_address is None
    assert PURPOSE not in (later.model_extra or {})
    wire = dump_message(first)
    assert purpose_of(parse_message(wire, ContractRequestMessage)) == "research"
    termination = outgoing.termination(_neg(PROVIDER), "x", ["a: b"])
    assert termination.reason == ["a: b"] and termination.code == "x"


def test_nothing_goes_out_before_the_provider_pid_is_known() -> None:
    neg = _neg(CONSUMER, provider_pid=None)
    with pytest.raises(Conflict):
        outgoing._url(neg, outgoing.verification(neg))
    assert outgoing._url(neg, outgoing.request(neg, Settings(), initial=True)).endswith(
        "/negotiations/request")


def test_a_first_offer_carries_our_callback_and_no_consumer_pid() -> None:
    neg = _neg(PROVIDER, consumer_pid=None)
    first = outgoing.first_offer(neg, Settings(public_url="https://us.example"), neg.offer)
    assert first.initial and first.callback_address == "https://us.example/dsp/2025-1"
    assert first.provider_pid == "urn:uuid:ours"
    with pytest.raises(Conflict):
        outgoing._url(neg, outgoing.event(neg, "FINALIZED"))
