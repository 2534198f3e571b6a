"""The management API's reading side: who sees which negotiations and agreements, paging, and
the OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.negotiation_kit import (
    AS_CONSUMER,
    CONSUMER,
    DSP,
    OWNER,
    PROVIDER,
    client,
    headers_for,
    offer_odrl,
    request_body,
    runtime_of,
    seed,
)

ANALYST = "did:web:analyst.example"


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    with client(data_dir, database_url) as http:
        runtime = runtime_of(http)
        seed(runtime, "urn:dataset:mine", offer_odrl("urn:offer:mine"))
        seed(runtime, "urn:dataset:theirs", offer_odrl("urn:offer:theirs"),
             owner="did:web:city.example")
        yield http


def _provider_negotiations(http: TestClient, dataset: str, n: int) -> list[str]:
    pids = []
    for _ in range(n):
        resp = http.post(DSP + "/request", json=request_body(dataset, "urn:offer:x"),
                         headers=AS_CONSUMER)
        pids.append(resp.json()["providerPid"])
    return pids


def _ids(http: TestClient, path: str, headers: dict[str, str], **params: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        resp = http.get(path, headers=headers,
                        params={**params, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_each_principal_sees_its_own_and_pages_walk_all_of_them(http: TestClient) -> None:
    mine = _provider_negotiations(http, "urn:dataset:mine", 5)
    theirs = _provider_negotiations(http, "urn:dataset:theirs", 2)
    analyst = headers_for(http, ["partner"], ANALYST)
    started = http.post("/api/v1/negotiations", headers=analyst, json={
        "counterparty_address": "http://p.invalid/dsp/2025-1", "provider_id": PROVIDER,
        "offer_id": "o", "dataset_id": "d"}).json()["id"]
    owner = headers_for(http, ["provider"], OWNER)
    admin = headers_for(http, ["admin"], "did:web:ops.example")
    counterparty = headers_for(http, ["partner"], CONSUMER)
    nobody = headers_for(http, ["partner", "provider"], "did:web:nobody.example")

    assert _ids(http, "/api/v1/negotiations", owner, limit=2) == list(reversed(mine))
    assert _ids(http, "/api/v1/negotiations", analyst) == [started]
    assert set(_ids(http, "/api/v1/negotiations", counterparty)) == set(mine + theirs)
    assert set(_ids(http, "/api/v1/negotiations", admin, limit=3)) == {*mine, *theirs, started}
    assert _ids(http, "/api/v1/negotiations", nobody) == []
    assert _ids(http, "/api/v1/negotiations", admin, role="consumer") == [started]
    assert set(_ids(http, "/api/v1/negotiations", admin,
                    dataset_id="urn:dataset:theirs")) == set(theirs)
    assert _ids(http, "/api/v1/negotiations", admin, state="FINALIZED") == []
    assert http.get(f"/api/v1/negotiations/{mine[0]}", headers=nobody).status_code == 404
    assert http.get(f"/api/v1/negotiations/{started}", headers=owner).status_code == 404
    detail = http.get(f"/api/v1/negotiations/{mine[0]}", headers=owner).json()
    assert detail["state"] == "AGREED" and detail["counterparty"] == CONSUMER
    assert [e["to_state"] for e in detail["events"]] == ["REQUESTED", "AGREED"]


def test_agreements_are_listed_for_owner_and_assignee(http: TestClient) -> None:
    mine = _provider_negotiations(http, "urn:dataset:mine", 3)
    _provider_negotiations(http, "urn:dataset:theirs", 1)
    owner = headers_for(http, ["provider"], OWNER)
    counterparty = headers_for(http, ["partner"], CONSUMER)
    nobody = headers_for(http, ["partner"], "did:web:nobody.example")
    agreements = _ids(http, "/api/v1/agreements", owner, limit=1)
    assert len(agreements) == 3
    assert len(_ids(http, "/api/v1/agreements", counterparty)) == 4
    assert _ids(http, "/api/v1/agreements", nobody) == []
    assert _ids(http, "/api/v1/agreements", owner, dataset_id="urn:dataset:theirs") == []
    one = http.get(f"/api/v1/agreements/{agreements[0]}", headers=owner).json()
    assert one["negotiation_id"] in mine and one["status"] == "pending"
    assert one["odrl"]["@type"] == "Agreement" and one["normalised"]["kind"] == "agreement"
    assert http.get(f"/api/v1/agreements/{agreements[0]}", headers=nobody).status_code == 404


@pytest.mark.parametrize(("query", "status"), [
    ("cursor=abc", 400), ("cursor=WyIyMDI2IiwgMV0", 400), ("limit=0", 422),
    ("limit=101", 422)])
def test_bad_paging_is_a_problem(http: TestClient, query: str, status: int) -> None:
    admin = headers_for(http, ["admin"], "did:web:ops.example")
    for path in ("/api/v1/negotiations", "/api/v1/agreements"):
        resp = http.get(f"{path}?{query}", headers=admin)
        assert resp.status_code == status, (path, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"


def test_openapi_describes_every_negotiation_route(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    for action in ("offer", "agree", "finalize", "accept", "request", "verify", "terminate"):
        operation = paths[f"/api/v1/negotiations/{{negotiation_id}}/{action}"]["post"]
        assert operation["summary"] and "200" in operation["responses"]
    assert paths["/api/v1/negotiations"]["post"]["requestBody"]
    assert {"NegotiationOut", "NegotiationDetail", "NegotiationPage", "AgreementOut",
            "AgreementPage", "NegotiationIn", "TerminationIn"} <= set(spec["components"]["schemas"])
    assert "requestBody" in paths["/dsp/2025-1/negotiations/request"]["post"]
