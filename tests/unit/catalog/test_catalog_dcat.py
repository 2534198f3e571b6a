"""DCAT rendering: every document validates against the official DSP 2025-1 schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.catalog.dcat import (
    catalog_document,
    catalog_offer,
    dataset_document,
    offers_by_dataset,
)
from connector.catalog.models import Dataset, Offer
from connector.demo import dortmund
from connector.dsp import expand, parse_message
from connector.dsp.messages import Catalog
from connector.dsp.messages import Dataset as DcatDataset
from connector.policy.odrl import normalise_policy
from tests.integration.catalog_kit import schema_errors

URL = "https://hub.example"
DCT, DCAT = "http://purl.org/dc/terms/", "http://www.w3.org/ns/dcat#"


def _demo() -> list[tuple[Dataset, list[Offer]]]:
    out = []
    for d in dortmund.datasets():
        dataset = Dataset(id=d.id, title=d.title, description=d.description, owner=d.owner,
                          keywords=list(d.keywords), themes=list(d.themes),
                          accrual_periodicity=d.accrual_periodicity, media_type=d.media_type,
                          updated_at=datetime(2026, 11, 1, tzinfo=UTC))
        offer = Offer(id=d.offer["@id"], dataset_id=d.id, odrl=d.offer,
                      normalised=normalise_policy(d.offer))
        out.append((dataset, [offer]))
    return out


@pytest.mark.parametrize("entry", _demo(), ids=lambda e: e[0].id)
def test_every_demo_dataset_validates(entry: tuple[Dataset, list[Offer]]) -> None:
    doc = dataset_document(*entry, public_url=URL)
    assert schema_errors(doc, "dataset-schema.json") == []
    assert parse_message(doc, DcatDataset).id == entry[0].id


def test_the_demo_catalog_validates_and_parses_back() -> None:
    doc = catalog_document(_demo(), public_url=URL, participant_id="did:web:hub.example")
    assert schema_errors(doc, "catalog-schema.json") == []
    parsed = parse_message(doc, Catalog)
    assert parsed.participant_id == "did:web:hub.example" and len(parsed.dataset or []) == 13
    assert doc["@id"] == URL + "/dsp/2025-1/catalog"


def test_an_empty_catalog_validates() -> None:
    doc = catalog_document([], public_url=URL, participant_id="did:web:hub.example")
    assert "dataset" not in doc and schema_errors(doc, "catalog-schema.json") == []


def test_minimal_dataset() -> None:
    dataset = Dataset(id="CAT0102", title="t", owner="o", media_type="")
    offer = Offer(id="CD123:CAT0102:456", dataset_id="CAT0102",
                  odrl={"permission": [{"action": "use"}]})
    doc = dataset_document(dataset, [offer], public_url=URL)
    assert schema_errors(doc, "dataset-schema.json") == []
    assert doc["hasPolicy"] == [{"@id": "CD123:CAT0102:456", "@type": "Offer",
                                 "permission": [{"action": "use"}]}]
    assert "dcat:mediaType" not in doc["distribution"][0]


def test_metadata_expands_to_dcat_and_dublin_core() -> None:
    dataset, offers = _demo()[0]
    node: dict[str, Any] = expand(dataset_document(dataset, offers, public_url=URL))[0]
    assert node[DCT + "title"] == [{"@value": dataset.title}]
    assert {v["@value"] for v in node[DCAT + "keyword"]} == set(dataset.keywords)
    assert node[DCAT + "theme"] == [{"@id": t} for t in dataset.themes]
    assert node[DCT + "publisher"] == [{"@id": dataset.owner}]
    assert node[DCT + "modified"][0]["@value"] == "2026-11-01T00:00:00Z"
    distribution = node[DCAT + "distribution"][0]
    assert distribution[DCAT + "accessService"][0][DCAT + "endpointURL"] == [
        {"@value": URL + "/dsp/2025-1"}]


def test_catalog_offers_lose_target_and_context_and_keep_their_id() -> None:
    offer = Offer(id="urn:offer:1", dataset_id="d", odrl={
        "@context": "https://w3id.org/dspace/2025/1/context.jsonld", "@id": "stale",
        "target": "d", "permission": [{"action": "use"}]})
    assert catalog_offer(offer) == {"@id": "urn:offer:1", "@type": "Offer",
                                    "permission": [{"action": "use"}]}


def test_offers_are_grouped_in_order() -> None:
    a, b, c = (Offer(id=i, dataset_id=d, odrl={}) for i, d in (("1", "x"), ("2", "y"),
                                                              ("3", "x")))
    assert {k: [o.id for o in v] for k, v in offers_by_dataset([a, b, c]).items()} == {
        "x": ["1", "3"], "y": ["2"]}
