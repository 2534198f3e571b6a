"""Malformed JSON-LD that pyld reports with plain Python errors is still the sender's mistake."""

from __future__ import annotations

from typing import Any

import pytest

from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import parse_message


@pytest.mark.parametrize("doc", [
    {"@context": "x", "@type": "ContractRequestMessage"},
    {"@context": ["x"], "@type": "TransferRequestMessage"},
    {"@context": 5, "@type": "CatalogRequestMessage"},
    {"@context": {"@vocab": 5}, "@type": "CatalogRequestMessage"},
])
def test_malformed_contexts_are_invalid_messages(doc: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage):
        parse_message(doc)
