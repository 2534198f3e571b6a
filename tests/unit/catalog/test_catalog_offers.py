"""Preparing an offer: enforceable by the policy engine and servable in a DSP catalog."""

from __future__ import annotations

from typing import Any

import pytest

from connector.catalog.offers import prepare
from connector.demo import dortmund
from connector.errors import UnsupportedPolicy, ValidationFailed


@pytest.mark.parametrize("demo", dortmund.datasets(), ids=lambda d: d.id)
def test_every_demo_offer_is_accepted_as_it_is(demo: dortmund.DemoDataset) -> None:
    ident, stored, normalised = prepare(demo.offer, dataset_id=demo.id)
    assert ident == demo.offer["@id"] and stored == demo.offer
    assert normalised["id"] == ident and normalised["target"] is None


def test_context_target_and_type_are_handled() -> None:
    ident, stored, _ = prepare({"@context": "https://w3id.org/dspace/2025/1/context.jsonld",
                                "target": "d", "permission": [{"action": "use"}]},
                               dataset_id="d")
    assert ident.startswith("urn:uuid:")
    assert stored == {"@id": ident, "@type": "Offer", "permission": [{"action": "use"}]}


@pytest.mark.parametrize(("odrl", "error", "detail"), [
    ({"permission": [{"action": "sell"}]}, UnsupportedPolicy, "sell"),
    ({"@type": "Agreement", "permission": [{"action": "use"}]}, UnsupportedPolicy, "@type"),
    ({"@id": "other", "permission": [{"action": "use"}]}, ValidationFailed, "'other'"),
    ({"target": "elsewhere", "permission": [{"action": "use"}]}, ValidationFailed,
     "elsewhere"),
    ({"@id": "dct:x", "permission": [{"action": "use"}]}, ValidationFailed, "JSON-LD"),
    ({"permission": [{"action": "use", "constraint": [{
        "leftOperand": "https://w3id.org/dodata/policy#approvalRequired", "operator": "eq",
        "rightOperand": True}]}]}, ValidationFailed, "DSP 2025-1 catalog Offer"),
])
def test_refused(odrl: dict[str, Any], error: type[Exception], detail: str) -> None:
    with pytest.raises(error) as info:
        prepare(odrl, dataset_id="d", offer_id="mine" if odrl.get("@id") == "other" else None)
    assert detail in str(info.value) or detail == info.value.extra.get("term")  # type: ignore[attr-defined]
