"""Access requests: owners list, approve (narrowing) or reject; webhooks reach a real receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.access import service
from connector.delivery.worker import DeliveryWorker
from connector.demo.load import load_demo
from tests.integration.auth_kit import get_token, make_app, register

OWNER = "did:web:dew21.example"
METER = "urn:dataset:smart-meter-households"


class Receiver:
    """A real HTTP server on loopback that records POSTs; fails the first ``fail_first``."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                else:
                    outer.bodies.append({"body": body, "auth": self.headers.get("authorization")})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    app = make_app(data_dir, database_url)
    with TestClient(app) as client:
        load_demo(app.state.runtime)
        yield client


def _auth(http: TestClient, roles: list[str], participant: str) -> dict[str, str]:
    client = register(http.app, roles, participant=participant)  # type: ignore[arg-type]
    return {"Authorization": "Bearer " + get_token(http, client)["access_token"]}


def _open(http: TestClient, negotiation: str = "urn:uuid:n-1") -> str:
    runtime = http.app.state.runtime  # type: ignore[attr-defined]
    with Session(runtime.engine) as session:
        request = service.open_request(
            session, negotiation_id=negotiation, dataset_id=METER, owner=OWNER,
            requester="did:web:energieberatung.example", purpose="energy-saving-advice",
            signing_key=runtime.keys.current("receipt"), issuer="http://testserver")
        session.commit()
        return request.id


def test_webhook_is_signed_retried_and_carries_no_credentials(http: TestClient) -> None:
    receiver = Receiver(fail_first=1)
    owner = _auth(http, ["provider"], OWNER)
    assert http.post("/api/v1/webhooks", json={"url": receiver.url},
                     headers=owner).status_code == 201
    request_id = _open(http)
    runtime = http.app.state.runtime  # type: ignore[attr-defined]
    runtime.stop_background()  # drive delivery by hand to see each attempt
    worker = DeliveryWorker(runtime.engine, headers_for=lambda c, u: {"Authorization": "x"})
    worker.run_once()
    assert receiver.bodies == []  # 503: kept for a retry with back-off
    deadline = time.monotonic() + 10
    while not receiver.bodies and time.monotonic() < deadline:
        worker.run_once()
        time.sleep(0.1)
    worker.stop()
    [delivered] = receiver.bodies
    assert delivered["auth"] is None
    event = delivered["body"]["event"]
    assert event["type"] == "access_request.created" and event["data"]["id"] == request_id
    jwks = http.get("/consent/jwks").json()
    header = jwt.get_unverified_header(delivered["body"]["jws"])
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(delivered["body"]["jws"], jwt.PyJWK(key).key, algorithms=["EdDSA"])
    assert claims["data"] == event["data"]


def test_owner_lists_approves_with_narrowing_and_the_negotiation_is_told(
        http: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    decided: list[tuple[str, str, Mapping[str, Any], str | None]] = []

    def record(session: Session, runtime: Any, request: Any,
               terms: Mapping[str, Any]) -> None:
        decided.append((request.negotiation_id, request.state, dict(terms), request.reason))

    monkeypatch.setattr(service, "DECIDERS", [record])
    if True:
        request_id = _open(http, "urn:uuid:n-2")
        owner = _auth(http, ["provider"], OWNER)
        pending = http.get("/api/v1/access-requests?state=pending", headers=owner).json()
        assert [r["id"] for r in pending["items"]] == [request_id]
        other = _auth(http, ["provider"], "did:web:dortmund.example")
        assert http.get("/api/v1/access-requests?state=pending",
                        headers=other).json()["items"] == []
        assert http.post(f"/api/v1/access-requests/{request_id}/approve", json={},
                         headers=other).status_code == 404
        resp = http.post(f"/api/v1/access-requests/{request_id}/approve",
                         json={"max_count": 3, "not_after": "2027-01-31T23:59:59Z"},
                         headers=owner)
        assert resp.status_code == 200 and resp.json()["state"] == "approved"
        assert decided == [("urn:uuid:n-2", "approved",
                            {"max_count": 3, "not_after": "2027-01-31T23:59:59Z"}, None)]
        again = http.post(f"/api/v1/access-requests/{request_id}/approve", json={},
                          headers=owner)
        assert again.status_code == 200 and len(decided) == 1
        assert http.post(f"/api/v1/access-requests/{request_id}/reject",
                         json={"reason": "no"}, headers=owner).status_code == 409


def test_reject_needs_a_reason_and_bad_narrowing_is_refused(
        http: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "DECIDERS", [])  # no negotiation behind these requests
    request_id = _open(http, "urn:uuid:n-3")
    owner = _auth(http, ["provider"], OWNER)
    resp = http.post(f"/api/v1/access-requests/{request_id}/reject", json={}, headers=owner)
    assert resp.status_code == 422 and resp.json()["errors"][0]["path"] == "reason"
    for count in (0, 2**53, 2**60):  # past 2^53 no audit entry could hold it exactly
        resp = http.post(f"/api/v1/access-requests/{request_id}/approve",
                         json={"max_count": count}, headers=owner)
        assert resp.status_code == 422, (count, resp.text)
    resp = http.post(f"/api/v1/access-requests/{request_id}/approve",
                     json={"colour": "red"}, headers=owner)
    assert resp.status_code == 422 and resp.json()["errors"][0]["path"] == "colour"
    resp = http.post(f"/api/v1/access-requests/{request_id}/reject",
                     json={"reason": "household data only for certified advisers"},
                     headers=owner)
    assert resp.json()["state"] == "rejected"
    assert resp.json()["reason"] == "household data only for certified advisers"


def test_the_same_request_delivered_twice_opens_one(http: TestClient) -> None:
    assert _open(http, "urn:uuid:n-4") == _open(http, "urn:uuid:n-4")
    partner = _auth(http, ["partner"], "did:web:energieberatung.example")
    assert http.get("/api/v1/access-requests", headers=partner).status_code == 403


def test_approval_gated_offer_waits_then_agrees_on_narrowed_terms(data_dir: Path,
                                                                   database_url: str) -> None:
    from tests.integration import negotiation_kit as kit

    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        kit.seed(runtime, "urn:dataset:meters", kit.offer_odrl(
            "urn:offer:meters", kit.purpose_is("research"), kit.APPROVAL))
        resp = http.post(f"{kit.DSP}/request", headers=kit.AS_CONSUMER, json=kit.request_body(
            "urn:dataset:meters", "urn:offer:meters", purpose="research"))
        assert resp.status_code == 201, resp.text
        pid = resp.json()["providerPid"]
        assert kit.negotiation(runtime, pid).state == "REQUESTED"
        owner = kit.headers_for(http, ["provider"], kit.OWNER)
        [pending] = http.get("/api/v1/access-requests?state=pending", headers=owner).json()[
            "items"]
        assert pending["negotiation"] == pid and pending["purpose"] == "research"
        approved = http.post(f"/api/v1/access-requests/{pending['id']}/approve", headers=owner,
                             json={"max_count": 2, "not_after": "2027-06-30T23:59:59Z"})
        assert approved.status_code == 200, approved.text
        neg = kit.negotiation(runtime, pid)
        assert neg.state == "AGREED"
        with Session(runtime.engine) as session:
            from connector.negotiation.models import Agreement

            agreement = session.get(Agreement, neg.agreement_id)
            assert agreement is not None
            assert agreement.normalised["max_count"] == 2
            assert agreement.normalised["window"]["not_after"] is not None
            assert agreement.normalised["purposes"] == ["research"]


def test_rejected_access_request_terminates_with_the_owners_reason(data_dir: Path,
                                                                   database_url: str) -> None:
    from tests.integration import negotiation_kit as kit

    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        kit.seed(runtime, "urn:dataset:meters", kit.offer_odrl("urn:offer:meters",
                                                                 kit.APPROVAL))
        resp = http.post(f"{kit.DSP}/request", headers=kit.AS_CONSUMER,
                         json=kit.request_body("urn:dataset:meters", "urn:offer:meters"))
        pid = resp.json()["providerPid"]
        owner = kit.headers_for(http, ["provider"], kit.OWNER)
        [pending] = http.get("/api/v1/access-requests", headers=owner).json()["items"]
        http.post(f"/api/v1/access-requests/{pending['id']}/reject", headers=owner,
                  json={"reason": "household data only for certified advisers"})
        neg = kit.negotiation(runtime, pid)
        assert neg.state == "TERMINATED"
        [termination] = [m for m in kit.outbox(runtime, pid)
                         if m.body["@type"] == "ContractNegotiationTerminationMessage"]
        assert any("certified advisers" in str(r) for r in termination.body["reason"])


def test_a_webhook_url_no_notice_could_reach_is_refused(http: TestClient) -> None:
    owner = _auth(http, ["provider"], OWNER)
    for bad in ["http://xn--/hook", "http://\u0001/hook", "http://[/hook", "http://a..b/hook",
                "https://" + "a" * 300 + "/hook", "ftp://owner.example/hook"]:
        resp = http.post("/api/v1/webhooks", json={"url": bad}, headers=owner)
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json()["errors"][0]["path"] == "url"
