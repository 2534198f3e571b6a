"""The consumer side: starting through the management API, the provider's messages arriving at
our callbacks, the answer to our first request, and delivery given up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.delivery.outbox import FAILURE_HANDLERS, RESPONSE_HANDLERS
from connector.negotiation.models import Agreement
from tests.integration.auth_kit import BASE
from tests.integration.negotiation_kit import (
    AS_PROVIDER,
    DSP,
    PROVIDER,
    PURPOSE,
    agreement_body,
    client,
    event,
    headers_for,
    message,
    negotiation,
    outbox,
    runtime_of,
    sent_types,
)

THEM = "https://provider.example/dsp/2025-1"
ANALYST = "did:web:analyst.example"
CATALOG_OFFER = {"@id": "urn:offer:air", "@type": "Offer", "assigner": PROVIDER,
                 "permission": [{"action": "use", "constraint": [
                     {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}]}]}


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    with client(data_dir, database_url) as http:
        yield http


@pytest.fixture
def partner(http: TestClient) -> dict[str, str]:
    return headers_for(http, ["partner"], ANALYST)


def _start(http: TestClient, partner: dict[str, str], **body: Any) -> dict[str, Any]:
    fields = {"counterparty_address": THEM + "/", "provider_id": PROVIDER,
              "offer": CATALOG_OFFER, "dataset_id": "urn:dataset:air", **body}
    resp = http.post("/api/v1/negotiations", headers=partner, json=fields)
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


def _answered(http: TestClient, pid: str, provider_pid: str = "urn:uuid:p-1") -> str:
    """What the delivery worker does with the provider's answer to our first request."""
    runtime = runtime_of(http)
    with Session(runtime.engine) as session:
        RESPONSE_HANDLERS[("negotiation", "ContractRequestMessage")](session, pid, {
            "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "ContractNegotiation", "providerPid": provider_pid, "consumerPid": pid,
            "state": "REQUESTED"})
        session.commit()
    return provider_pid


def test_start_sends_the_first_request_with_callback_and_purpose(
        http: TestClient, partner: dict[str, str]) -> None:
    started = _start(http, partner, purpose="research")
    pid = started["id"]
    assert started["role"] == "consumer" and started["state"] == "REQUESTED"
    assert started["consumer_pid"] == pid and started["provider_pid"] is None
    assert started["requested_by"] == ANALYST and started["counterparty_address"] == THEM
    [sent] = outbox(runtime_of(http), pid)
    assert sent.url == THEM + "/negotiations/request" and sent.counterparty == PROVIDER
    assert sent.body["@type"] == "ContractRequestMessage" and sent.body["consumerPid"] == pid
    assert sent.body["callbackAddress"] == BASE + "/dsp/2025-1"
    assert "providerPid" not in sent.body and sent.body[PURPOSE] == "research"
    assert sent.body["offer"]["@id"] == "urn:offer:air"
    assert sent.body["offer"]["target"] == "urn:dataset:air"
    assert sent.on_failure == "terminate"


def test_start_with_offer_and_dataset_ids_only(http: TestClient, partner: dict[str, str]) -> None:
    started = _start(http, partner, offer=None, offer_id="offerACNC0101", dataset_id="ACNC0101")
    offer = outbox(runtime_of(http), started["id"])[0].body["offer"]
    assert offer == {"@id": "offerACNC0101", "@type": "Offer", "target": "ACNC0101",
                     "permission": [{"action": "use"}]}


@pytest.mark.parametrize(("body", "status"), [
    ({"offer": None}, 422),  # neither an offer nor offer_id + dataset_id
    ({"offer": {"@id": "urn:offer:x"}}, 422),  # no rules
    ({"counterparty_address": "not a url"}, 422),
    ({"purpose": "x" * 101}, 422),
])
def test_start_refuses_what_it_cannot_send(http: TestClient, partner: dict[str, str],
                                           body: dict[str, Any], status: int) -> None:
    fields = {"counterparty_address": THEM, "provider_id": PROVIDER, "offer": CATALOG_OFFER,
              "dataset_id": "urn:dataset:air", **body}
    resp = http.post("/api/v1/negotiations", headers=partner, json=fields)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"


def test_start_needs_the_negotiate_scope(http: TestClient) -> None:
    fields = {"counterparty_address": THEM, "provider_id": PROVIDER, "offer": CATALOG_OFFER}
    assert http.post("/api/v1/negotiations", json=fields).status_code == 401
    owner = headers_for(http, ["provider"], "did:web:dew21.example")
    assert http.post("/api/v1/negotiations", json=fields, headers=owner).status_code == 403


def test_the_answer_gives_the_provider_pid_and_later_messages_use_it(
        http: TestClient, partner: dict[str, str]) -> None:
    pid = _start(http, partner)["id"]
    resp = http.post(f"/api/v1/negotiations/{pid}/terminate", headers=partner)
    assert resp.status_code == 409  # nowhere to send it before the provider answered
    runtime = runtime_of(http)
    with Session(runtime.engine) as session:  # answers that are no answer are ignored
        handler = RESPONSE_HANDLERS[("negotiation", "ContractRequestMessage")]
        handler(session, pid, {"@type": "Nonsense"})
        handler(session, pid, {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                               "@type": "ContractNegotiation", "providerPid": "urn:uuid:p-9",
                               "consumerPid": "urn:uuid:someone-else", "state": "REQUESTED"})
        session.commit()
    assert negotiation(runtime, pid).provider_pid is None
    ppid = _answered(http, pid)
    assert negotiation(runtime, pid).provider_pid == ppid
    resp = http.post(f"/api/v1/negotiations/{pid}/terminate", headers=partner,
                     json={"reason": ["changed_mind: no longer needed"]})
    assert resp.status_code == 200 and resp.json()["state"] == "TERMINATED"
    sent = outbox(runtime, pid)[-1]
    assert sent.url == f"{THEM}/negotiations/{ppid}/termination"
    assert sent.body["reason"] == ["changed_mind: no longer needed"]


def test_offer_accept_counter_request_and_manual_verify(
        http: TestClient, partner: dict[str, str]) -> None:
    runtime = runtime_of(http)
    pid = _start(http, partner, auto_verify=False)["id"]
    ppid = "urn:uuid:p-2"
    offer = {"@id": "urn:offer:air:2", "@type": "Offer", "target": "urn:dataset:air",
             "permission": [{"action": "use"}]}
    resp = http.post(f"{DSP}/{pid}/offers", headers=AS_PROVIDER,
                     json=message("ContractOfferMessage", ppid, pid, offer=offer))
    assert resp.status_code == 200 and resp.json()["state"] == "OFFERED"
    assert negotiation(runtime, pid).provider_pid == ppid  # learnt from the message
    counter = {"permission": [{"action": "use"}], "@id": "urn:offer:mine"}
    resp = http.post(f"/api/v1/negotiations/{pid}/request", headers=partner,
                     json={"offer": counter})
    assert resp.status_code == 200 and resp.json()["state"] == "REQUESTED"
    sent = outbox(runtime, pid)[-1]
    assert sent.url == f"{THEM}/negotiations/{ppid}/request"
    assert sent.body["providerPid"] == ppid and "callbackAddress" not in sent.body
    assert sent.body["offer"]["@id"] == "urn:offer:mine"
    http.post(f"{DSP}/{pid}/offers", headers=AS_PROVIDER,
              json=message("ContractOfferMessage", ppid, pid, offer=offer))
    assert http.post(f"/api/v1/negotiations/{pid}/accept", headers=partner).status_code == 200
    resp = http.post(f"{DSP}/{pid}/agreement", headers=AS_PROVIDER,
                     json=agreement_body(ppid, pid, "urn:dataset:air", agreement_id="urn:a:1"))
    assert resp.json()["state"] == "AGREED"
    resp = http.post(f"/api/v1/negotiations/{pid}/verify", headers=partner)
    assert resp.status_code == 200 and resp.json()["state"] == "VERIFIED"
    resp = http.post(f"{DSP}/{pid}/events", headers=AS_PROVIDER,
                     json=event(ppid, pid, "FINALIZED"))
    assert resp.json()["state"] == "FINALIZED"
    assert sent_types(runtime, pid) == [
        "ContractRequestMessage", "ContractRequestMessage",
        "ContractNegotiationEventMessage:ACCEPTED", "ContractAgreementVerificationMessage"]
    with Session(runtime.engine) as session:
        agreement = session.get(Agreement, "urn:a:1")
    assert agreement is not None and agreement.role == "consumer"
    assert agreement.status == "active" and agreement.negotiation_id == pid


def test_an_agreement_with_terms_we_do_not_support_is_kept_and_marked(
        http: TestClient, partner: dict[str, str]) -> None:
    pid = _start(http, partner)["id"]
    body = agreement_body("urn:uuid:p-3", pid, "urn:dataset:air", agreement_id="urn:a:odd",
                          permission=[{"action": "use", "constraint": [
                              {"leftOperand": "industry", "operator": "eq",
                               "rightOperand": "energy"}]}])
    resp = http.post(f"{DSP}/{pid}/agreement", headers=AS_PROVIDER, json=body)
    assert resp.status_code == 200 and resp.json()["state"] == "AGREED"
    with Session(runtime_of(http).engine) as session:
        agreement = session.get(Agreement, "urn:a:odd")
    assert agreement is not None and agreement.normalised == {}
    assert agreement.unsupported is not None and "industry" in agreement.unsupported
    shown = http.get("/api/v1/agreements/urn:a:odd", headers=partner).json()
    assert shown["unsupported"] == agreement.unsupported and shown["status"] == "pending"


def test_an_agreement_for_another_dataset_is_refused(
        http: TestClient, partner: dict[str, str]) -> None:
    pid = _start(http, partner)["id"]
    resp = http.post(f"{DSP}/{pid}/agreement", headers=AS_PROVIDER,
                     json=agreement_body("urn:uuid:p-4", pid, "urn:dataset:other"))
    assert resp.status_code == 400
    assert negotiation(runtime_of(http), pid).state == "REQUESTED"


def test_provider_termination_after_agreement_ends_the_agreement(
        http: TestClient, partner: dict[str, str]) -> None:
    pid = _start(http, partner)["id"]
    ppid = "urn:uuid:p-5"
    http.post(f"{DSP}/{pid}/agreement", headers=AS_PROVIDER,
              json=agreement_body(ppid, pid, "urn:dataset:air", agreement_id="urn:a:5"))
    resp = http.post(f"{DSP}/{pid}/termination", headers=AS_PROVIDER, json=message(
        "ContractNegotiationTerminationMessage", ppid, pid, code="policy-denied",
        reason=["window_closed: too late", "plain words"]))
    assert resp.status_code == 200 and resp.json()["state"] == "TERMINATED"
    assert negotiation(runtime_of(http), pid).reason == [
        {"code": "window_closed", "message": "too late"}, {"message": "plain words"}]
    with Session(runtime_of(http).engine) as session:
        agreement = session.get(Agreement, "urn:a:5")
    assert agreement is not None and agreement.status == "terminated"


def test_a_providers_first_offer_opens_a_negotiation_only_an_admin_drives(
        http: TestClient, partner: dict[str, str]) -> None:
    offer = {"@id": "urn:offer:push", "@type": "Offer", "target": "urn:dataset:push",
             "permission": [{"action": "use"}]}
    body = {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "ContractOfferMessage", "providerPid": "urn:uuid:p-6",
            "callbackAddress": THEM, "offer": offer}
    first = http.post(f"{DSP}/offers", headers=AS_PROVIDER, json=body)
    again = http.post(f"{DSP}/offers", headers=AS_PROVIDER, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["state"] == "OFFERED"
    pid = first.json()["consumerPid"]
    assert again.json()["consumerPid"] == pid
    assert http.post(f"/api/v1/negotiations/{pid}/accept", headers=partner).status_code == 404
    admin = headers_for(http, ["admin", "partner"], "did:web:ops.example")
    resp = http.post(f"/api/v1/negotiations/{pid}/accept", headers=admin)
    assert resp.status_code == 200 and resp.json()["state"] == "ACCEPTED"
    assert outbox(runtime_of(http), pid)[-1].url == f"{THEM}/negotiations/urn:uuid:p-6/events"
    later = {**body, "consumerPid": pid}
    del later["callbackAddress"]
    assert http.post(f"{DSP}/offers", headers=AS_PROVIDER, json=later).status_code == 400


def test_delivery_given_up_terminates_here(http: TestClient, partner: dict[str, str]) -> None:
    pid = _start(http, partner)["id"]
    runtime = runtime_of(http)
    with Session(runtime.engine) as session:
        FAILURE_HANDLERS["negotiation"](session, pid, "HTTP 400: refused")
        session.commit()
    neg = negotiation(runtime, pid)
    assert neg.state == "TERMINATED"
    assert neg.reason == [{"code": "delivery_failed", "message": "HTTP 400: refused"}]
    assert len(outbox(runtime, pid)) == 1  # nobody is told
    with Session(runtime.engine) as session:  # a second failure, or one after the end: no-op
        FAILURE_HANDLERS["negotiation"](session, pid, "again")
        FAILURE_HANDLERS["negotiation"](session, "urn:uuid:nobody", "again")
        session.commit()
    assert negotiation(runtime, pid).reason[0]["message"] == "HTTP 400: refused"
