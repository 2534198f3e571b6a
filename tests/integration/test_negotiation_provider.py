"""The provider side over HTTP: auto allow/deny/approval, manual owner steps, counter-offers.

One app, real database; the consumer is played by DSP calls with its ``fixed`` credential.
Outgoing messages are held in the outbox (a long callback delay), where the tests read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from connector.audit.models import AuditEntry
from connector.errors import IllegalTransition
from connector.negotiation.models import Agreement
from connector.negotiation.provider import decide_pending
from tests.integration.negotiation_kit import (
    APPROVAL,
    AS_CONSUMER,
    CALLBACK,
    CONSUMER,
    DSP,
    OWNER,
    PROVIDER,
    client,
    event,
    events,
    headers_for,
    message,
    negotiation,
    offer_odrl,
    outbox,
    purpose_is,
    request_body,
    runtime_of,
    seed,
    sent_types,
)

AIR, AIR_OFFER = "urn:dataset:air", "urn:offer:air"


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    with client(data_dir, database_url) as http:
        yield http


def _request(http: TestClient, dataset: str = AIR, offer: str = AIR_OFFER,
             **kwargs: Any) -> tuple[str, str]:
    resp = http.post(DSP + "/request", json=request_body(dataset, offer, **kwargs),
                     headers=AS_CONSUMER)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["@type"] == "ContractNegotiation" and body["state"] == "REQUESTED"
    return body["providerPid"], body["consumerPid"]


def _state(http: TestClient, pid: str) -> str:
    resp = http.get(f"{DSP}/{pid}", headers=AS_CONSUMER)
    assert resp.status_code == 200
    return str(resp.json()["state"])


def _post(http: TestClient, path: str, body: dict[str, Any]) -> Any:
    return http.post(DSP + path, json=body, headers=AS_CONSUMER)


def _audit_types(http: TestClient, negotiation_id: str) -> list[str]:
    with Session(runtime_of(http).engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.idx))).all()
    bodies = [json.loads(row.body) for row in rows]
    return [b["type"] for b in bodies if b.get("negotiation") == negotiation_id]


def test_auto_allow_agrees_then_finalizes_on_verification(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, AIR, offer_odrl(AIR_OFFER, purpose_is("research")))
    pid, cpid = _request(http, purpose="research")
    assert _state(http, pid) == "AGREED"
    [sent] = outbox(runtime, pid)
    assert sent.url == f"{CALLBACK}/negotiations/{cpid}/agreement"
    assert sent.counterparty == CONSUMER and sent.on_failure == "terminate"
    odrl = sent.body["agreement"]
    assert odrl["@id"].startswith("urn:uuid:") and odrl["target"] == AIR
    assert (odrl["assigner"], odrl["assignee"]) == (PROVIDER, CONSUMER)
    assert odrl["permission"] == offer_odrl(AIR_OFFER, purpose_is("research"))["permission"]
    assert odrl["timestamp"].endswith("Z")
    neg = negotiation(runtime, pid)
    assert neg.agreement_id == odrl["@id"] and neg.purpose == "research" and neg.mode == "auto"

    resp = _post(http, f"/{pid}/agreement/verification",
                 message("ContractAgreementVerificationMessage", pid, cpid))
    assert resp.status_code == 200 and resp.json()["state"] == "VERIFIED"
    assert _state(http, pid) == "FINALIZED"
    assert sent_types(runtime, pid) == ["ContractAgreementMessage",
                                        "ContractNegotiationEventMessage:FINALIZED"]
    assert events(runtime, pid) == [(None, "REQUESTED"), ("REQUESTED", "AGREED"),
                                    ("AGREED", "VERIFIED"), ("VERIFIED", "FINALIZED")]
    with Session(runtime.engine) as session:
        agreement = session.get(Agreement, odrl["@id"])
    assert agreement is not None and agreement.status == "active" and agreement.role == "provider"
    assert agreement.normalised["purposes"] == ["research"]
    # Decided when requested and again right before agreeing; every move in the audit log.
    assert _audit_types(http, pid) == [
        "negotiation.requested", "policy.decision", "policy.decision", "negotiation.agreed",
        "negotiation.verified", "negotiation.finalized"]


def test_auto_deny_terminates_with_the_decisions_reasons(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, AIR, offer_odrl(AIR_OFFER, purpose_is("research")))
    pid, cpid = _request(http, purpose="marketing")
    assert _state(http, pid) == "TERMINATED"
    [sent] = outbox(runtime, pid)
    assert sent.url == f"{CALLBACK}/negotiations/{cpid}/termination"
    assert sent.body["code"] == "policy-denied" and sent.on_failure == "log"
    assert sent.body["reason"][0].startswith("purpose_not_allowed: ")
    assert [r["code"] for r in negotiation(runtime, pid).reason] == ["purpose_not_allowed"]
    assert "negotiation.terminated" in _audit_types(http, pid)


def test_a_missing_purpose_is_a_reason_too(http: TestClient) -> None:
    seed(runtime_of(http), AIR, offer_odrl(AIR_OFFER, purpose_is("research")))
    pid, _ = _request(http)
    assert [r["code"] for r in negotiation(runtime_of(http), pid).reason] == ["purpose_missing"]


def test_the_purpose_may_be_a_prefixed_or_expanded_extension(http: TestClient) -> None:
    seed(runtime_of(http), AIR, offer_odrl(AIR_OFFER, purpose_is("research")))
    body = request_body(AIR, AIR_OFFER)
    body["@context"] = [*body["@context"], {"dodata": "https://w3id.org/dodata/policy#"}]
    body["dodata:purpose"] = "research"
    resp = http.post(DSP + "/request", json=body, headers=AS_CONSUMER)
    assert resp.status_code == 201
    assert _state(http, resp.json()["providerPid"]) == "AGREED"


def test_approval_required_waits_in_requested_until_decided(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, AIR, offer_odrl(AIR_OFFER, APPROVAL))
    approved, _ = _request(http)
    rejected, _ = _request(http)
    assert _state(http, approved) == _state(http, rejected) == "REQUESTED"
    assert outbox(runtime, approved) == []
    assert "negotiation.approval_pending" in _audit_types(http, approved)
    with Session(runtime.engine, expire_on_commit=False) as session:
        decide_pending(session=session, runtime=runtime, negotiation_id=approved,
                       approval={"status": "approved", "participant": CONSUMER, "dataset": AIR})
        decide_pending(session=session, runtime=runtime, negotiation_id=rejected,
                       approval={"status": "rejected", "participant": CONSUMER, "dataset": AIR},
                       reason="not for this project")
        session.commit()
    assert _state(http, approved) == "AGREED"
    assert _state(http, rejected) == "TERMINATED"
    assert [r["code"] for r in negotiation(runtime, rejected).reason] == [
        "approval_rejected", "approval_missing"]
    assert outbox(runtime, rejected)[-1].body["reason"][0] == \
        "approval_rejected: not for this project"
    with Session(runtime.engine) as session, pytest.raises(IllegalTransition):
        decide_pending(session=session, runtime=runtime, negotiation_id=approved,
                       approval={"status": "approved"})


def test_manual_offer_counter_offer_accept_agree_finalize(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, AIR, offer_odrl(AIR_OFFER), mode="manual")
    owner = headers_for(http, ["provider"], OWNER)
    pid, cpid = _request(http, offer="CD123:ACN0101:456")  # matched by its terms
    assert _state(http, pid) == "REQUESTED" and outbox(runtime, pid) == []
    assert negotiation(runtime, pid).offer_id == AIR_OFFER

    def act(action: str, **body: Any) -> Any:
        resp = http.post(f"/api/v1/negotiations/{pid}/{action}", headers=owner,
                         json=body or None)
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert act("offer")["state"] == "OFFERED"
    offered = outbox(runtime, pid)[-1].body
    assert offered["@type"] == "ContractOfferMessage" and offered["consumerPid"] == cpid
    assert offered["offer"]["@id"] == AIR_OFFER and offered["offer"]["target"] == AIR
    assert offered["offer"]["assigner"] == PROVIDER
    counter = request_body(AIR, "urn:offer:counter")
    del counter["callbackAddress"]
    counter.update(providerPid=pid, consumerPid=cpid)
    counter["offer"]["permission"] = [{"action": "use", "constraint": [purpose_is("science")]}]
    resp = _post(http, f"/{pid}/request", counter)
    assert resp.status_code == 200 and resp.json()["state"] == "REQUESTED"
    assert negotiation(runtime, pid).offer["@id"] == "urn:offer:counter"
    own_terms = {"@id": "urn:offer:second", "permission": [{"action": "use"}]}
    assert act("offer", offer=own_terms)["state"] == "OFFERED"
    resp = _post(http, f"/{pid}/events", event(pid, cpid, "ACCEPTED"))
    assert resp.status_code == 200 and resp.json()["state"] == "ACCEPTED"
    assert act("agree")["state"] == "AGREED"
    agreement = outbox(runtime, pid)[-1].body["agreement"]
    assert agreement["permission"] == [{"action": "use"}]
    resp = _post(http, f"/{pid}/agreement/verification",
                 message("ContractAgreementVerificationMessage", pid, cpid))
    assert resp.json()["state"] == "VERIFIED" and _state(http, pid) == "VERIFIED"
    assert act("finalize")["state"] == "FINALIZED"
    assert sent_types(runtime, pid) == [
        "ContractOfferMessage", "ContractOfferMessage", "ContractAgreementMessage",
        "ContractNegotiationEventMessage:FINALIZED"]
    detail = http.get(f"/api/v1/negotiations/{pid}", headers=owner).json()
    assert [e["to_state"] for e in detail["events"]] == [
        "REQUESTED", "OFFERED", "REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED",
        "FINALIZED"]


def test_manual_agree_directly_and_owner_terminate(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, AIR, offer_odrl(AIR_OFFER), mode="manual")
    owner = headers_for(http, ["provider"], OWNER)
    agreed, _ = _request(http)
    resp = http.post(f"/api/v1/negotiations/{agreed}/agree", headers=owner)
    assert resp.json()["state"] == "AGREED" and resp.json()["agreement_id"]
    ended, cpid = _request(http)
    resp = http.post(f"/api/v1/negotiations/{ended}/terminate", headers=owner,
                     json={"code": "no-capacity", "reason": ["busy: try next month"]})
    assert resp.status_code == 200 and resp.json()["state"] == "TERMINATED"
    sent = outbox(runtime, ended)[-1]
    assert sent.url.endswith(f"/negotiations/{cpid}/termination")
    assert sent.body["code"] == "no-capacity" and sent.body["reason"] == ["busy: try next month"]
    assert negotiation(runtime, ended).reason == [{"code": "busy", "message": "try next month"}]


def test_only_the_datasets_owner_or_an_admin_drives_the_provider_side(http: TestClient) -> None:
    seed(runtime_of(http), AIR, offer_odrl(AIR_OFFER), mode="manual")
    pid, _ = _request(http)
    other_provider = headers_for(http, ["provider"], "did:web:someone-else.example")
    partner = headers_for(http, ["partner"], CONSUMER)  # the consumer itself, as a partner
    admin = headers_for(http, ["admin", "provider"], "did:web:ops.example")
    assert http.post(f"/api/v1/negotiations/{pid}/offer",
                     headers=other_provider).status_code == 404
    assert http.post(f"/api/v1/negotiations/{pid}/offer", headers=partner).status_code == 403
    assert http.post(f"/api/v1/negotiations/{pid}/terminate",
                     headers=partner).status_code == 403
    assert http.get(f"/api/v1/negotiations/{pid}", headers=partner).status_code == 200
    assert http.post(f"/api/v1/negotiations/{pid}/accept", headers=partner).status_code == 409
    resp = http.post(f"/api/v1/negotiations/{pid}/offer", headers=admin)
    assert resp.status_code == 200 and resp.json()["state"] == "OFFERED"


def test_an_illegal_owner_step_is_a_409_problem(http: TestClient) -> None:
    seed(runtime_of(http), AIR, offer_odrl(AIR_OFFER), mode="manual")
    owner = headers_for(http, ["provider"], OWNER)
    pid, _ = _request(http)
    resp = http.post(f"/api/v1/negotiations/{pid}/finalize", headers=owner)
    assert resp.status_code == 409
    assert resp.headers["content-type"] == "application/problem+json"
    assert _state(http, pid) == "REQUESTED"


def test_unknown_dataset_or_offer_is_refused(http: TestClient) -> None:
    seed(runtime_of(http), AIR, offer_odrl(AIR_OFFER, purpose_is("research")))
    for dataset, offer in (("urn:dataset:nope", AIR_OFFER), (AIR, "urn:offer:other-terms")):
        resp = http.post(DSP + "/request", json=request_body(dataset, offer),
                         headers=AS_CONSUMER)
        assert resp.status_code == 400
        assert resp.json()["@type"] == "ContractNegotiationError"


def test_a_first_offer_opens_a_negotiation_the_consumer_answers(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, AIR, offer_odrl(AIR_OFFER), mode="manual")
    owner = headers_for(http, ["provider"], OWNER)
    stranger = headers_for(http, ["provider"], "did:web:someone-else.example")
    fields = {"offer_id": AIR_OFFER, "consumer_id": CONSUMER,
              "counterparty_address": "http://consumer.invalid/dsp/2025-1/"}
    assert http.post("/api/v1/negotiations/offers", headers=stranger,
                     json=fields).status_code == 404
    resp = http.post("/api/v1/negotiations/offers", headers=owner, json=fields)
    assert resp.status_code == 201, resp.text
    pid = resp.json()["id"]
    [sent] = outbox(runtime, pid)
    assert sent.url == "http://consumer.invalid/dsp/2025-1/negotiations/offers"
    assert sent.body["providerPid"] == pid and "consumerPid" not in sent.body
    assert sent.body["callbackAddress"].endswith("/dsp/2025-1")
    assert sent.body["offer"]["assignee"] == CONSUMER
    # The consumer answers with a request before its answer to our offer was recorded.
    counter = request_body(AIR, AIR_OFFER, consumer_pid="urn:uuid:c-1")
    del counter["callbackAddress"]
    counter["providerPid"] = pid
    resp = _post(http, f"/{pid}/request", counter)
    assert resp.status_code == 200 and resp.json()["consumerPid"] == "urn:uuid:c-1"
    assert negotiation(runtime, pid).consumer_pid == "urn:uuid:c-1"
    assert http.post(f"/api/v1/negotiations/{pid}/agree", headers=owner).json()["state"] == \
        "AGREED"
    assert outbox(runtime, pid)[-1].url.endswith("/negotiations/urn:uuid:c-1/agreement")
