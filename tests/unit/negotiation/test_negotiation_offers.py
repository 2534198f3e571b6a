"""Offers in messages and the declared purpose (``negotiation/offers.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import ContractRequestMessage
from connector.errors import ValidationFailed
from connector.negotiation.offers import PURPOSE, message_offer, purpose_of, rules_of

RULES = {"permission": [{"action": "use"}]}


def test_message_offer_fills_type_and_target_and_checks() -> None:
    shaped = message_offer({"@context": "x", "@id": "urn:o:1", **RULES}, target="urn:d:1",
                           assigner="did:web:us.example")
    assert shaped == {"@id": "urn:o:1", "@type": "Offer", "target": "urn:d:1",
                      "assigner": "did:web:us.example", **RULES}
    assert message_offer({**RULES}, target="t", offer_id="urn:o:2")["@id"] == "urn:o:2"
    with pytest.raises(ValidationFailed) as refused:
        message_offer({"@id": "urn:o:1"}, target="t")
    assert refused.value.extra["errors"]
    assert rules_of({"@id": "x", "target": "t", **RULES, "obligation": []}) == {
        **RULES, "obligation": []}


def _request(**extra: Any) -> ContractRequestMessage:
    return ContractRequestMessage.model_validate({
        "consumerPid": "c", "callbackAddress": "http://x",
        "offer": {"@id": "o", "@type": "Offer", "target": "d", **RULES}, **extra})


@pytest.mark.parametrize(("extra", "purpose"), [
    ({}, None), ({PURPOSE: "research"}, "research"),
    ({PURPOSE: {"@value": "research"}}, "research"), ({PURPOSE: ["research"]}, "research")])
def test_purpose_is_read_from_the_extension_property(extra: dict[str, Any],
                                                     purpose: str | None) -> None:
    assert purpose_of(_request(**extra)) == purpose


@pytest.mark.parametrize("value", ["", "x" * 101, 3, ["a", "b"], {"@id": "x"}])
def test_a_bad_purpose_is_an_invalid_message(value: Any) -> None:
    with pytest.raises(InvalidMessage):
        purpose_of(_request(**{PURPOSE: value}))
