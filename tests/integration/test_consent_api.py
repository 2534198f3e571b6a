"""Consent records over HTTP on SQLite and PostgreSQL: give, read, withdraw, import, receipts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.consent import service
from connector.consent.receipts import verify_receipt
from connector.demo.load import load_demo
from tests.integration.auth_kit import get_token, make_app, register

METER = "urn:dataset:smart-meter-households"
ADVICE = "did:web:energieberatung.example"


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    app = make_app(data_dir, database_url)
    with TestClient(app) as client:
        load_demo(app.state.runtime)
        yield client


def _auth(http: TestClient, roles: list[str], participant: str) -> dict[str, str]:
    client = register(http.app, roles, participant=participant)  # type: ignore[arg-type]
    return {"Authorization": "Bearer " + get_token(http, client)["access_token"]}


def _give(http: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"recipients": [ADVICE], "purposes": ["energy-saving-advice"], "datasets": [METER],
            "data_categories": ["smart-meter-readings"], "subject_keys": ["meter-0001"],
            **overrides}
    resp = http.post("/api/v1/consents", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_give_read_withdraw_with_verifiable_receipts(http: TestClient) -> None:
    me = _auth(http, ["data_subject"], "urn:subject:hh-0001")
    given = _give(http, me)
    record = given["consent"]
    assert record["status"] == "active" and record["data_subject"] == "urn:subject:hh-0001"
    assert record["schema_version"].startswith("ISO/IEC TS 27560")
    jwks = http.get("/consent/jwks").json()
    claims = verify_receipt(given["receipt"], jwks)
    assert claims["record_id"] == record["id"] and claims["event"] == "given"
    assert [r["id"] for r in http.get("/api/v1/consents", headers=me).json()["items"]] == [
        record["id"]]
    withdrawn = http.post(f"/api/v1/consents/{record['id']}/withdraw", headers=me)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"]["status"] == "withdrawn"
    assert verify_receipt(withdrawn.json()["receipt"], jwks)["event"] == "withdrawn"
    again = http.post(f"/api/v1/consents/{record['id']}/withdraw", headers=me).json()
    assert [e["type"] for e in again["consent"]["events"]] == ["given", "withdrawn"]


def test_jsonld_export_uses_dpv(http: TestClient) -> None:
    me = _auth(http, ["data_subject"], "urn:subject:hh-0002")
    record = _give(http, me, subject_keys=["meter-0002"])["consent"]
    doc = http.get(f"/api/v1/consents/{record['id']}?format=jsonld", headers=me)
    assert doc.headers["content-type"].startswith("application/ld+json")
    body = doc.json()
    assert body["@type"] == "dpv:Consent"
    assert body["dpv:hasConsentStatus"] == {"@id": "dpv:ConsentGiven"}
    assert body["@context"]["dpv"] == "https://w3id.org/dpv#"


def test_a_subject_cannot_see_or_change_anothers_records(http: TestClient) -> None:
    alice = _auth(http, ["data_subject"], "urn:subject:hh-0003")
    bob = _auth(http, ["data_subject"], "urn:subject:hh-0004")
    record = _give(http, alice)["consent"]
    assert http.get(f"/api/v1/consents/{record['id']}", headers=bob).status_code == 404
    assert http.post(f"/api/v1/consents/{record['id']}/withdraw",
                     headers=bob).status_code == 404
    assert http.get("/api/v1/consents", headers=bob).json()["items"] == []
    partner = _auth(http, ["partner"], ADVICE)
    assert http.get("/api/v1/consents", headers=partner).status_code == 403


@pytest.mark.parametrize(("override", "path"), [
    ({"datasets": ["urn:dataset:parking-garages"]}, "datasets"),
    ({"datasets": ["urn:dataset:nope"]}, "datasets"),
    ({"recipients": []}, "recipients"),
    ({"purposes": "advice"}, "purposes"),
    ({"valid_until": "2020-01-01T00:00:00Z"}, "valid_until"),
    ({"valid_from": "yesterday"}, "valid_from"),
    ({"valid_from": "0001-01-01T00:00:00Z"}, "valid_from"),
    ({"valid_until": "9999-12-31T23:59:59-00:01"}, "valid_until"),
])
def test_bad_consent_is_refused_with_the_field(http: TestClient, override: dict[str, Any],
                                               path: str) -> None:
    me = _auth(http, ["data_subject"], "urn:subject:hh-0005")
    body = {"recipients": [ADVICE], "purposes": ["energy-saving-advice"], "datasets": [METER],
            **override}
    resp = http.post("/api/v1/consents", json=body, headers=me)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["path"] == path
    assert http.get("/api/v1/consents", headers=me).json()["items"] == []  # nothing half-saved


def test_provider_import_and_validity_rules(http: TestClient) -> None:
    provider = _auth(http, ["provider"], "did:web:dew21.example")
    now = datetime.now(UTC)
    resp = http.post("/api/v1/consents/import", headers=provider, json={
        "data_subject": "urn:subject:hh-0010", "recipients": [ADVICE],
        "purposes": ["energy-saving-advice"], "datasets": [METER],
        "subject_keys": ["meter-0010"], "collection_method": "paper form, branch office",
        "valid_from": (now - timedelta(days=10)).isoformat(),
        "valid_until": (now + timedelta(days=10)).isoformat()})
    assert resp.status_code == 201 and resp.json()["consent"]["source"] == "imported"
    record_id = resp.json()["consent"]["id"]
    session = Session(http.app.state.runtime.engine)  # type: ignore[attr-defined]
    with session:
        assert service.view(session, record_id).status == "active"
        later = now + timedelta(days=11)
        assert service.view(session, record_id, at=later).status == "expired"
        valid = service.valid_consents(session, dataset=METER, recipient=ADVICE,
                                       purpose="energy-saving-advice")
        assert "meter-0010" in service.subjects_with_consent(valid)
        assert service.valid_consents(session, dataset=METER, recipient="did:web:other.example",
                                      purpose="energy-saving-advice") == []
        assert service.valid_consents(session, dataset=METER, recipient=ADVICE,
                                      purpose="marketing") == []
        assert record_id in {v.record.id for v in valid}
        valid_later = service.valid_consents(session, dataset=METER, recipient=ADVICE,
                                             purpose="energy-saving-advice", at=later)
        assert record_id not in {v.record.id for v in valid_later}


def test_reconsent_after_withdrawal_counts_again(http: TestClient) -> None:
    me = _auth(http, ["data_subject"], "urn:subject:hh-0020")
    first = _give(http, me, subject_keys=["meter-0020"])["consent"]
    http.post(f"/api/v1/consents/{first['id']}/withdraw", headers=me)
    with Session(http.app.state.runtime.engine) as session:  # type: ignore[attr-defined]
        valid = service.valid_consents(session, dataset=METER, recipient=ADVICE,
                                       purpose="energy-saving-advice")
        assert "meter-0020" not in service.subjects_with_consent(valid)
    _give(http, me, subject_keys=["meter-0020"])
    with Session(http.app.state.runtime.engine) as session:  # type: ignore[attr-defined]
        valid = service.valid_consents(session, dataset=METER, recipient=ADVICE,
                                       purpose="energy-saving-advice")
        assert "meter-0020" in service.subjects_with_consent(valid)


def test_consent_events_are_audited(http: TestClient) -> None:
    me = _auth(http, ["data_subject"], "urn:subject:hh-0030")
    record = _give(http, me)["consent"]
    http.post(f"/api/v1/consents/{record['id']}/withdraw", headers=me)
    auditor = _auth(http, ["auditor"], "did:web:audit.example")
    found = http.get("/audit/entries", params={"participant": "urn:subject:hh-0030"},
                     headers=auditor).json()["items"]
    kinds = [i["entry"]["type"] for i in found if i["entry"].get("consent") == record["id"]]
    assert kinds == ["consent.given", "consent.withdrawn"]
    assert all("receipt" not in json.dumps(i) for i in found)
