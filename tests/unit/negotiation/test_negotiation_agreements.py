"""The ODRL agreement a provider builds (``negotiation/agreements.py``)."""

from __future__ import annotations

import pytest

from connector.errors import ValidationFailed
from connector.negotiation import agreements
from connector.negotiation.models import Negotiation

RULES = {"permission": [{"action": "use"}]}


def test_agreement_build_carries_the_parties_target_and_rules() -> None:
    neg = Negotiation(id="urn:uuid:ours", role="provider", counterparty="did:web:them.example",
                      dataset_id="urn:d:1", state="ACCEPTED")
    odrl = agreements.build(neg, {"@id": "urn:o:1", "@type": "Offer", **RULES},
                            assigner="did:web:us.example")
    assert odrl["@id"].startswith("urn:uuid:") and odrl["@type"] == "Agreement"
    assert (odrl["target"], odrl["assigner"], odrl["assignee"]) == (
        "urn:d:1", "did:web:us.example", "did:web:them.example")
    assert odrl["permission"] == RULES["permission"] and odrl["timestamp"].endswith("Z")
    with pytest.raises(ValidationFailed):
        agreements.build(neg, {"@id": "o"}, assigner="did:web:us.example")  # no rules
