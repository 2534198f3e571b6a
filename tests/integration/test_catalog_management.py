"""The management API for datasets, offers and policy dry runs: ownership, validation, audit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.audit import service as audit_service
from connector.negotiation.models import Negotiation
from tests.integration.auth_kit import get_token, make_app, register
from tests.integration.catalog_kit import (
    CITY,
    DSP_CONTEXT,
    FIXED_IDENTITY,
    UTILITY,
    add_participants,
    offer_odrl,
    only,
)

CSV = b"time,pm10\n2026-11-01T00:00:00Z,12.5\n"


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    (data_dir / "files").mkdir()
    (data_dir / "files" / "pm.csv").write_bytes(CSV)
    app = make_app(data_dir, database_url, audit_checkpoint_seconds=3600, **FIXED_IDENTITY)
    with TestClient(app) as client:
        add_participants(app.state.runtime.engine)
        yield client


def _headers(http: TestClient, roles: list[str], participant: str) -> dict[str, str]:
    client = register(http.app, roles, participant=participant)  # type: ignore[arg-type]
    return {"Authorization": "Bearer " + get_token(http, client)["access_token"]}


@pytest.fixture
def city(http: TestClient) -> dict[str, str]:
    return _headers(http, ["provider"], CITY)


@pytest.fixture
def utility(http: TestClient) -> dict[str, str]:
    return _headers(http, ["provider"], UTILITY)


def _entries(http: TestClient, kind: str) -> list[dict[str, Any]]:
    engine = http.app.state.runtime.engine  # type: ignore[attr-defined]
    page = audit_service.search(engine, cursor=None, limit=500, types=[kind], participant=None,
                                dataset=None, time_from=None, time_to=None)
    return [item["entry"] for item in page["items"]]


def _dataset(http: TestClient, headers: dict[str, str], dataset_id: str = "pm",
             **fields: Any) -> dict[str, Any]:
    body = {"id": dataset_id, "title": "PM10 Lindenhorst", "keywords": ["PM10"],
            "source": {"kind": "file", "path": "files/pm.csv"}, **fields}
    response = http.post("/api/v1/datasets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def test_dataset_crud_with_audit(http: TestClient, city: dict[str, str]) -> None:
    created = _dataset(http, city)
    assert created["owner"] == CITY and created["byte_size"] == len(CSV)
    assert created["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert created["source"] == {"kind": "file", "path": "files/pm.csv"}
    assert http.get("/api/v1/datasets/pm", headers=city).json() == created
    changed = http.patch("/api/v1/datasets/pm", headers=city,
                         json={"title": "PM10", "source": {"kind": "http",
                                                           "url": "https://origin.example/pm"}})
    assert changed.status_code == 200
    assert changed.json()["title"] == "PM10" and changed.json()["sha256"] is None
    assert http.patch("/api/v1/datasets/pm", headers=city, json={"title": None}
                      ).status_code == 422
    assert http.delete("/api/v1/datasets/pm", headers=city).status_code == 204
    assert http.get("/api/v1/datasets/pm", headers=city).status_code == 404
    kinds = [(e["type"], e["dataset"], e["participant"]) for e in _entries(
        http, "dataset.created") + _entries(http, "dataset.updated") + _entries(
        http, "dataset.deleted") if e.get("source") != "demo"]
    assert kinds == [("dataset.created", "pm", CITY), ("dataset.updated", "pm", CITY),
                     ("dataset.deleted", "pm", CITY)]
    assert _entries(http, "dataset.updated")[0]["fields"] == ["byte_size", "sha256", "source",
                                                              "source_kind", "title"]


@pytest.mark.parametrize(("source", "path"), [
    ({"kind": "file", "path": "../outside.csv"}, "source.path"),
    ({"kind": "file", "path": "/etc/hostname"}, "source.path"),
    ({"kind": "file", "path": "files/missing.csv"}, "source.path"),
    ({"kind": "file", "path": "link.csv"}, "source.path"),
    ({"kind": "http", "url": "ftp://origin.example/x"}, "source.url"),
    ({"kind": "http", "url": "http://xn--/x"}, "source.url"),
    ({"kind": "http", "url": "http://\u0001/x"}, "source.url"),
    ({"kind": "http", "url": "http://a..b/x"}, "source.url"),
    ({"kind": "http", "url": "http://%zz/x"}, "source.url"),
    ({"kind": "sql", "database": "nowhere", "query": "SELECT 1"}, "source.database"),
])
def test_bad_sources_are_refused(http: TestClient, city: dict[str, str], data_dir: Path,
                                 source: dict[str, Any], path: str) -> None:
    (data_dir.parent / "outside.csv").write_text("secret")
    (data_dir / "link.csv").symlink_to(data_dir.parent / "outside.csv")
    response = http.post("/api/v1/datasets", headers=city,
                         json={"id": "x", "title": "x", "source": source})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == path


def test_identifiers_json_ld_would_rewrite_are_refused(http: TestClient,
                                                       city: dict[str, str]) -> None:
    response = http.post("/api/v1/datasets", headers=city, json={
        "id": "dcat:x", "title": "x", "source": {"kind": "file", "path": "files/pm.csv"}})
    assert response.status_code == 422 and response.json()["errors"][0]["path"] == "id"


def test_providers_touch_only_their_own_datasets(http: TestClient, city: dict[str, str],
                                                 utility: dict[str, str]) -> None:
    _dataset(http, city)
    _dataset(http, utility, "meter")
    for method, body in (("GET", None), ("PATCH", {"title": "mine"}), ("DELETE", None)):
        response = http.request(method, "/api/v1/datasets/pm", headers=utility, json=body)
        assert response.status_code == 403, method
    assert http.post("/api/v1/datasets", headers=utility, json={
        "id": "y", "title": "y", "owner": CITY,
        "source": {"kind": "file", "path": "files/pm.csv"}}).status_code == 403
    listed = http.get("/api/v1/datasets", headers=utility).json()
    assert [d["id"] for d in listed["items"]] == ["meter"] and listed["next_cursor"] is None
    assert http.get("/api/v1/datasets", headers=utility,
                    params={"owner": CITY}).status_code == 403
    partner = _headers(http, ["partner"], "did:web:nw-company.example")
    assert http.get("/api/v1/datasets", headers=partner).status_code == 403


def test_admin_touches_any_dataset_and_lists_in_pages(http: TestClient,
                                                      city: dict[str, str]) -> None:
    admin = _headers(http, ["admin"], "did:web:dodata.example")
    for n in range(3):
        _dataset(http, city, f"pm-{n}")
    created = _dataset(http, admin, "for-utility", owner=UTILITY)
    assert created["owner"] == UTILITY
    first = http.get("/api/v1/datasets", headers=admin, params={"limit": 2}).json()
    assert [d["id"] for d in first["items"]] == ["for-utility", "pm-0"]
    rest = http.get("/api/v1/datasets", headers=admin,
                    params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [d["id"] for d in rest["items"]] == ["pm-1", "pm-2"] and rest["next_cursor"] is None
    assert http.patch("/api/v1/datasets/pm-0", headers=admin,
                      json={"owner": UTILITY}).json()["owner"] == UTILITY
    assert http.delete("/api/v1/datasets/pm-1", headers=admin).status_code == 204


def test_offer_crud_and_catalog(http: TestClient, city: dict[str, str]) -> None:
    _dataset(http, city)
    odrl = offer_odrl("offer-pm", only("spatial", ["DE-NW"]))
    created = http.post("/api/v1/offers", headers=city,
                        json={"dataset_id": "pm", "odrl": {"@context": DSP_CONTEXT,
                                                           "target": "pm", **odrl}})
    assert created.status_code == 201, created.text
    offer = created.json()
    assert offer["odrl"] == odrl and offer["mode"] == "auto"
    assert offer["normalised"]["regions"] == ["DE-NW"] and len(offer["policy_hash"]) == 64
    again = http.post("/api/v1/offers", headers=city, json={"dataset_id": "pm", "odrl": odrl})
    assert again.status_code == 409
    catalog = http.post("/dsp/2025-1/catalog/request", headers={
        "Authorization": "Bearer nw-company"}, json={"@context": [DSP_CONTEXT],
                                                     "@type": "CatalogRequestMessage"})
    assert [d["@id"] for d in catalog.json()["dataset"]] == ["pm"]
    patched = http.patch("/api/v1/offers/offer-pm", headers=city, json={
        "mode": "manual", "odrl": offer_odrl("offer-pm", only("spatial", ["FR"]))}).json()
    assert patched["mode"] == "manual" and patched["policy_hash"] != offer["policy_hash"]
    listed = http.get("/api/v1/offers", headers=city, params={"dataset": "pm"}).json()
    assert [o["id"] for o in listed["items"]] == ["offer-pm"]
    assert http.delete("/api/v1/offers/offer-pm", headers=city).status_code == 204
    assert http.get("/api/v1/offers/offer-pm", headers=city).status_code == 404
    assert [e["type"] for e in _entries(http, "offer.created") + _entries(
        http, "offer.updated") + _entries(http, "offer.deleted")] == [
        "offer.created", "offer.updated", "offer.deleted"]
    assert _entries(http, "offer.updated")[0]["fields"] == ["odrl", "mode"]


@pytest.mark.parametrize(("odrl", "status", "code", "term"), [
    (offer_odrl("o", {"leftOperand": "partner", "operator": "eq", "rightOperand": "gold"}),
     422, "unsupported-policy", "partner"),
    (offer_odrl("o", {"or": [only("purpose", ["a"])]}), 422, "unsupported-policy", "or"),
    ({**offer_odrl("o"), "@type": "Agreement"}, 422, "unsupported-policy", "@type"),
    (offer_odrl("o", {"leftOperand": "https://w3id.org/dodata/policy#consentRequired",
                      "operator": "eq", "rightOperand": True}), 422, "validation-failed", None),
    ({**offer_odrl("o"), "target": "other"}, 422, "validation-failed", None),
])
def test_offers_the_connector_cannot_enforce_or_serve_are_refused(
        http: TestClient, city: dict[str, str], odrl: dict[str, Any], status: int, code: str,
        term: str | None) -> None:
    _dataset(http, city)
    response = http.post("/api/v1/offers", headers=city, json={"dataset_id": "pm",
                                                               "odrl": odrl})
    assert response.status_code == status
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == f"urn:dodata:problem:{code}"
    if term is not None:
        assert problem["term"] == term


def test_offers_on_foreign_datasets_are_refused(http: TestClient, city: dict[str, str],
                                                utility: dict[str, str]) -> None:
    _dataset(http, city)
    response = http.post("/api/v1/offers", headers=utility,
                         json={"dataset_id": "pm", "odrl": offer_odrl("o")})
    assert response.status_code == 403
    http.post("/api/v1/offers", headers=city, json={"dataset_id": "pm",
                                                    "odrl": offer_odrl("o")})
    assert http.get("/api/v1/offers/o", headers=utility).status_code == 403
    assert http.get("/api/v1/offers", headers=utility).json()["items"] == []


def test_deleting_a_dataset_removes_offers_unless_negotiated(http: TestClient,
                                                             city: dict[str, str]) -> None:
    _dataset(http, city)
    http.post("/api/v1/offers", headers=city, json={"dataset_id": "pm",
                                                    "odrl": offer_odrl("o")})
    _dataset(http, city, "busy")
    with Session(http.app.state.runtime.engine) as session:  # type: ignore[attr-defined]
        session.add(Negotiation(id="urn:uuid:n", role="provider", counterparty="x",
                                dataset_id="busy", state="REQUESTED"))
        session.commit()
    assert http.delete("/api/v1/datasets/busy", headers=city).status_code == 409
    assert http.delete("/api/v1/datasets/pm", headers=city).status_code == 204
    assert http.get("/api/v1/offers/o", headers=city).status_code == 404
    deleted = _entries(http, "dataset.deleted")
    assert deleted[-1]["offers"] == ["o"] and _entries(http, "offer.deleted")[-1]["offer"] == "o"


def test_evaluate_is_a_dry_run(http: TestClient, city: dict[str, str]) -> None:
    _dataset(http, city)
    http.post("/api/v1/offers", headers=city, json={
        "dataset_id": "pm", "odrl": offer_odrl("o", only("spatial", ["DE-NW"]))})
    before = len(_entries(http, "policy.decision"))
    stored = http.post("/api/v1/policies/evaluate", headers=city, json={
        "offer_id": "o", "requester": {"participant": "did:web:x", "region": "FR",
                                       "org_type": "company", "action": "catalog"}})
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert body["allow"] is False
    assert [r["code"] for r in body["reasons"]] == ["region_not_allowed"]
    assert body["input"]["resource"]["dataset"] == "pm"
    raw = http.post("/api/v1/policies/evaluate", headers=city, json={
        "offer": offer_odrl("x", only("purpose", ["research"]), ),
        "requester": {"participant": "did:web:x", "purpose": "research",
                      "now": "2026-11-28T12:00:00Z"}}).json()
    assert raw["allow"] is True and raw["policy"]["purposes"] == ["research"]
    assert raw["input"]["context"]["now"] == 1795867200
    missing = http.post("/api/v1/policies/evaluate", headers=city, json={
        "offer": offer_odrl("x", only("purpose", ["research"])),
        "requester": {"participant": "did:web:x", "action": "transfer"}}).json()
    assert [r["code"] for r in missing["reasons"]] == ["purpose_missing"]
    assert len(_entries(http, "policy.decision")) == before
    both = http.post("/api/v1/policies/evaluate", headers=city, json={
        "offer": offer_odrl("x"), "offer_id": "o", "requester": {"participant": "p"}})
    assert both.status_code == 422
    unsupported = http.post("/api/v1/policies/evaluate", headers=city, json={
        "offer": offer_odrl("x", {"xone": []}), "requester": {"participant": "p"}})
    assert unsupported.status_code == 422 and unsupported.json()["term"] == "xone"
    # Times past year 9999 in UTC, and numbers past 2^53: refused, never a 500.
    for requester in ({"now": "9999-12-31T23:59:59-00:01"}, {"now": 2**70},
                      {"usage_count": 2**70},
                      {"consents": [{"granted_at": "0001-01-01T00:00:00+00:01"}]}):
        odd = http.post("/api/v1/policies/evaluate", headers=city, json={
            "offer": offer_odrl("x"), "requester": {"participant": "did:web:x", **requester}})
        assert odd.status_code == 422, (requester, odd.text)
    huge = {"leftOperand": "count", "operator": "lteq", "rightOperand": {"@value": 2**60}}
    too_many = http.post("/api/v1/offers", headers=city, json={
        "dataset_id": "pm", "odrl": offer_odrl("o-huge", huge)})
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["term"] == "count"
