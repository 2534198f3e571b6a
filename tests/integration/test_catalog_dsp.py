"""The DSP catalog over HTTP: visibility per requester, paging, filters, datasets, errors.

Real app, real database (SQLite and PostgreSQL), embedded policy engine, fixed-credential DSP
identity; every document served is checked against the official DSP 2025-1 schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connector.audit import service as audit_service
from tests.integration.auth_kit import make_app
from tests.integration.catalog_kit import (
    DSP_CONTEXT,
    ENVI,
    FIXED_IDENTITY,
    TRAN,
    add_dataset,
    add_participants,
    offer_odrl,
    only,
    schema_errors,
)

NW = {"Authorization": "Bearer nw-company"}
BY = {"Authorization": "Bearer by-research"}
FR = {"Authorization": "Bearer fr-company"}
STRANGER = {"Authorization": "Bearer unknown"}
REQUEST = {"@context": [DSP_CONTEXT], "@type": "CatalogRequestMessage"}
LINK = re.compile(r'<([^>]+)>; rel="(next|previous)"')


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    app = make_app(data_dir, database_url, audit_checkpoint_seconds=3600, **FIXED_IDENTITY)
    with TestClient(app) as client:
        engine = app.state.runtime.engine
        add_participants(engine)
        add_dataset(engine, "open-air", offer_odrl("offer-open"))
        add_dataset(engine, "nw-only", offer_odrl("offer-nw", only("spatial", ["DE-NW"])),
                    keywords=("Parken", "PM10"), themes=(TRAN,))
        add_dataset(engine, "companies-only",
                    offer_odrl("offer-companies", only("dodata:orgType", ["company"])),
                    keywords=("pm10",), themes=(ENVI, TRAN))
        add_dataset(engine, "two-offers", offer_odrl("offer-b-research",
                                                     only("dodata:orgType", ["research"])),
                    offer_odrl("offer-a-nw", only("spatial", ["DE-NW"])))
        add_dataset(engine, "no-offer")
        yield client


def _catalog(http: TestClient, headers: dict[str, str], body: dict[str, Any] | None = None,
             url: str = "/dsp/2025-1/catalog/request") -> dict[str, Any]:
    response = http.post(url, json=body or REQUEST, headers=headers)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    assert schema_errors(doc, "catalog-schema.json") == []
    return doc


def _ids(doc: dict[str, Any]) -> list[str]:
    return [d["@id"] for d in doc.get("dataset", [])]


def test_version_document_is_public_and_ignores_authorization(http: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer tck-token"}):
        response = http.get("/.well-known/dspace-version", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body == {"protocolVersions": [{"version": "2025-1", "path": "/dsp/2025-1",
                                              "binding": "HTTPS"}]}
        assert schema_errors(body, "protocol-version-schema.json") == []


def test_each_requester_sees_what_the_policies_allow(http: TestClient) -> None:
    assert _ids(_catalog(http, NW)) == ["companies-only", "nw-only", "open-air", "two-offers"]
    assert _ids(_catalog(http, BY)) == ["open-air", "two-offers"]
    assert _ids(_catalog(http, FR)) == ["companies-only", "open-air"]
    assert _ids(_catalog(http, STRANGER)) == ["open-air"]


def test_only_visible_offers_are_shown_without_target(http: TestClient) -> None:
    def offers(headers: dict[str, str]) -> list[str]:
        doc = _catalog(http, headers)
        entry = next(d for d in doc["dataset"] if d["@id"] == "two-offers")
        assert all("target" not in o for o in entry["hasPolicy"])
        return [o["@id"] for o in entry["hasPolicy"]]

    assert offers(NW) == ["offer-a-nw"]
    assert offers(BY) == ["offer-b-research"]


def test_catalog_root_and_dataset_shape(http: TestClient) -> None:
    doc = _catalog(http, NW)
    assert doc["@context"] == [DSP_CONTEXT] and doc["@type"] == "Catalog"
    assert doc["participantId"] == "did:web:dodata.example"
    assert doc["service"] == [{"@type": "DataService", "@id": "http://testserver/dsp/2025-1",
                               "endpointURL": "http://testserver/dsp/2025-1"}]
    entry = doc["dataset"][0]
    assert entry["dct:title"] == "Dataset companies-only"
    assert entry["dcat:theme"] == [{"@id": ENVI}, {"@id": TRAN}]
    assert [d["format"] for d in entry["distribution"]] == ["HttpData-PULL", "HttpData-PUSH"]
    assert all(d["accessService"]["endpointURL"] == "http://testserver/dsp/2025-1"
               for d in entry["distribution"])


def test_dataset_lookup_and_catalog_errors(http: TestClient) -> None:
    response = http.get("/dsp/2025-1/catalog/datasets/nw-only", headers=NW)
    assert response.status_code == 200
    doc = response.json()
    assert doc["@context"] == [DSP_CONTEXT] and doc["@id"] == "nw-only"
    assert schema_errors(doc, "dataset-schema.json") == []
    for headers, dataset in ((FR, "nw-only"), (NW, "CAT0103"), (NW, "no-offer")):
        missing = http.get(f"/dsp/2025-1/catalog/datasets/{dataset}", headers=headers)
        assert missing.status_code == 404
        body = missing.json()
        assert body["@context"] == [DSP_CONTEXT] and body["@type"] == "CatalogError"
        assert body["code"] == "404" and isinstance(body["reason"], list) and body["reason"]
        assert schema_errors(body, "catalog-error-schema.json") == []
    # Unknown and invisible answer alike.
    assert http.get("/dsp/2025-1/catalog/datasets/nw-only", headers=FR).json()["reason"] == \
        ["no dataset 'nw-only' in this catalog"]


def test_unauthenticated_and_bad_requests_are_catalog_errors(http: TestClient) -> None:
    nobody = http.post("/dsp/2025-1/catalog/request", json=REQUEST)
    assert nobody.status_code == 401 and nobody.json()["@type"] == "CatalogError"
    wrong = http.post("/dsp/2025-1/catalog/request", headers=NW,
                      json={**REQUEST, "@type": "DatasetRequestMessage", "dataset": "x"})
    assert wrong.status_code == 400 and wrong.json()["@type"] == "CatalogError"
    for query in ("?cursor=!!", "?limit=0", "?limit=501"):
        bad = http.post("/dsp/2025-1/catalog/request" + query, headers=NW, json=REQUEST)
        assert bad.status_code == 400, query
        assert bad.json()["@type"] == "CatalogError"


@pytest.mark.parametrize(("flt", "expected"), [
    ([], ["companies-only", "nw-only", "open-air", "two-offers"]),
    ([{"dcat:keyword": "PM10"}], ["companies-only", "nw-only"]),
    ([{"http://www.w3.org/ns/dcat#keyword": ["luftqualität", "nothing"]}],
     ["open-air", "two-offers"]),
    ([{"dcat:theme": {"@id": TRAN}}], ["companies-only", "nw-only"]),
    ([{"dcat:theme": [ENVI]}, {"dcat:keyword": "pm10"}], ["companies-only"]),
    ([{"dcat:theme": ENVI, "dcat:keyword": "parken"}], []),
])
def test_filters(http: TestClient, flt: list[Any], expected: list[str]) -> None:
    assert _ids(_catalog(http, NW, {**REQUEST, "filter": flt})) == expected


@pytest.mark.parametrize("flt", [[{"keyword": "PM10"}], ["PM10"], [{"dct:title": "x"}],
                                 [{"dcat:keyword": []}], [{"dcat:keyword": 5}]])
def test_unsupported_filters_are_400(http: TestClient, flt: list[Any]) -> None:
    response = http.post("/dsp/2025-1/catalog/request", headers=NW,
                         json={**REQUEST, "filter": flt})
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "CatalogError" and "unsupported catalog filter" in body["reason"][0]


def test_decisions_are_audited_once_per_distinct_policy(http: TestClient) -> None:
    engine = http.app.state.runtime.engine  # type: ignore[attr-defined]

    def decisions() -> list[dict[str, Any]]:
        page = audit_service.search(engine, cursor=None, limit=500, types=["policy.decision"],
                                    participant="did:web:nw-company.example", dataset=None,
                                    time_from=None, time_to=None)
        return [item["entry"] for item in page["items"]]

    add_dataset(engine, "open-too", offer_odrl("offer-open-too"))  # same policy, other id
    _catalog(http, NW)
    entries = decisions()
    # open (2 offers), NW region (2 offers), company, research: four policies, four entries.
    assert len(entries) == 4 and len({e["policy_hash"] for e in entries}) == 4
    assert sorted(e["allow"] for e in entries) == [False, True, True, True]
    assert all(e["action"] == "catalog" and len(e["policy_hash"]) == 64 for e in entries)
    http.get("/dsp/2025-1/catalog/datasets/two-offers", headers=NW)
    assert len(decisions()) == 6  # that dataset's two policies


def test_paging_with_link_headers_over_120_datasets(http: TestClient) -> None:
    engine = http.app.state.runtime.engine  # type: ignore[attr-defined]
    for n in range(120):
        add_dataset(engine, f"bulk-{n:03d}", offer_odrl(f"offer-bulk-{n:03d}",
                                                        only("spatial", ["DE"])))
    expected = sorted(["companies-only", "nw-only", "open-air", "two-offers",
                       *(f"bulk-{n:03d}" for n in range(120))])
    seen: list[str] = []
    pages: list[list[str]] = []
    url: str | None = "/dsp/2025-1/catalog/request?limit=50"
    previous: list[str | None] = []
    while url is not None:
        response = http.post(url, json=REQUEST, headers=NW)
        assert response.status_code == 200
        assert schema_errors(response.json(), "catalog-schema.json") == []
        links = dict((rel, target) for target, rel in LINK.findall(response.headers.get(
            "link", "")))
        pages.append(_ids(response.json()))
        seen += pages[-1]
        previous.append(links.get("previous"))
        url = links.get("next")
        assert url is None or url.startswith("http://testserver/dsp/2025-1/catalog/request?")
    assert [len(p) for p in pages] == [50, 50, 24]
    assert seen == expected
    # 124 datasets under 5 distinct policies: 5 decisions (and audit entries) per page.
    decisions = audit_service.search(engine, cursor=None, limit=500, types=["policy.decision"],
                                     participant="did:web:nw-company.example", dataset=None,
                                     time_from=None, time_to=None)["items"]
    assert len(decisions) == 3 * 5
    assert previous[0] is None and previous[1] is not None
    back = http.post(previous[2], json=REQUEST, headers=NW)  # type: ignore[arg-type]
    assert _ids(back.json()) == pages[1]
    assert 'rel="next"' in back.headers["link"] and 'rel="previous"' in back.headers["link"]
    default = http.post("/dsp/2025-1/catalog/request", json=REQUEST, headers=BY)
    assert len(default.json()["dataset"]) == 50  # default page; BY sees DE-wide bulk too
    assert "limit=" not in default.headers["link"]
    assert json.loads(default.content)["@type"] == "Catalog"
