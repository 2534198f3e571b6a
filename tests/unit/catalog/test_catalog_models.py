"""The policy hash groups offers by what they allow, not by their identifiers."""

from __future__ import annotations

from connector.catalog.models import fold_keywords, policy_key
from connector.policy.odrl import normalise_policy


def _policy(offer_id: str, region: str, target: str | None = None) -> dict[str, object]:
    odrl = {"@id": offer_id, "@type": "Offer", "permission": [{"action": "use", "constraint": [
        {"leftOperand": "spatial", "operator": "eq", "rightOperand": region}]}]}
    return normalise_policy({**odrl, **({"target": target} if target else {})})


def test_policy_key_ignores_id_and_target_only() -> None:
    a = policy_key(_policy("urn:offer:a", "DE"))
    assert a == policy_key(_policy("urn:offer:b", "DE", target="urn:dataset:x"))
    assert a != policy_key(_policy("urn:offer:a", "FR"))
    assert len(a) == 64 and int(a, 16) >= 0


def test_keyword_index_folds_unicode_case() -> None:
    assert fold_keywords(["Straße", "STRASSE", "PM10", "Luftqualität"]) == [
        "luftqualität", "pm10", "strasse"]
