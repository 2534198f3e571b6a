"""DSP negotiation endpoints under attack and repetition: every TCK negative case of CN_03 and
CN_C_03 (400, state unchanged), duplicate deliveries (the effect of one), malformed bodies
(a DSP error, never a 500), unknown pids and strangers (404)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from connector.dsp.jsonld import expand
from connector.negotiation.models import Agreement
from tests.integration.negotiation_kit import (
    AS_CONSUMER,
    AS_PROVIDER,
    CONSUMER,
    DSP,
    OWNER,
    PROVIDER,
    agreement_body,
    client,
    event,
    events,
    headers_for,
    message,
    negotiation,
    offer_odrl,
    outbox,
    request_body,
    runtime_of,
    seed,
    sent_types,
)

AUTO, MANUAL = "urn:dataset:auto", "urn:dataset:manual"
STRANGER = {"Authorization": "Bearer c-token"}


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    credentials = {"Bearer a-token": CONSUMER, "Bearer b-token": PROVIDER,
                   "Bearer c-token": "did:web:stranger.example"}
    with client(data_dir, database_url, dsp_fixed_credentials=credentials) as http:
        runtime = runtime_of(http)
        seed(runtime, AUTO, offer_odrl("urn:offer:auto"))
        seed(runtime, MANUAL, offer_odrl("urn:offer:manual"), mode="manual")
        yield http


def _state(http: TestClient, pid: str, headers: dict[str, str]) -> str:
    resp = http.get(f"{DSP}/{pid}", headers=headers)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["state"])


def _refused(http: TestClient, path: str, body: Any, headers: dict[str, str], pid: str,
             state: str) -> None:
    """The TCK's negative step: 4xx but not 404 (we answer 400), and nothing moved."""
    before = events(runtime_of(http), pid)
    resp = http.post(DSP + path, json=body, headers=headers)
    assert resp.status_code == 400, resp.text
    error = resp.json()
    assert error["@type"] == "ContractNegotiationError" and error["reason"]
    assert pid in (error.get("providerPid"), error.get("consumerPid"))
    assert _state(http, pid, headers) == state
    assert events(runtime_of(http), pid) == before


def _ok(http: TestClient, path: str, body: Any, headers: dict[str, str]) -> str:
    resp = http.post(DSP + path, json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["state"])


# --- provider (CN_03) ---------------------------------------------------------------------

def _provider(http: TestClient, dataset: str) -> tuple[str, str]:
    resp = http.post(DSP + "/request", json=request_body(dataset, "urn:offer:x"),
                     headers=AS_CONSUMER)
    assert resp.status_code == 201, resp.text
    return resp.json()["providerPid"], resp.json()["consumerPid"]


def _owner_offer(http: TestClient, pid: str) -> None:
    owner = headers_for(http, ["provider"], OWNER)
    resp = http.post(f"/api/v1/negotiations/{pid}/offer", headers=owner)
    assert resp.status_code == 200 and resp.json()["state"] == "OFFERED"


def test_cn_03_01_termination_of_a_finalized_negotiation(http: TestClient) -> None:
    pid, cpid = _provider(http, AUTO)
    verify = message("ContractAgreementVerificationMessage", pid, cpid)
    assert _ok(http, f"/{pid}/agreement/verification", verify, AS_CONSUMER) == "VERIFIED"
    assert _state(http, pid, AS_CONSUMER) == "FINALIZED"
    _refused(http, f"/{pid}/termination",
             message("ContractNegotiationTerminationMessage", pid, cpid, code="1"),
             AS_CONSUMER, pid, "FINALIZED")


def test_cn_03_02_verification_while_offered(http: TestClient) -> None:
    pid, cpid = _provider(http, MANUAL)
    _owner_offer(http, pid)
    _refused(http, f"/{pid}/agreement/verification",
             message("ContractAgreementVerificationMessage", pid, cpid), AS_CONSUMER, pid,
             "OFFERED")


def test_cn_03_03_verification_while_accepted(http: TestClient) -> None:
    pid, cpid = _provider(http, MANUAL)
    _owner_offer(http, pid)
    assert _ok(http, f"/{pid}/events", event(pid, cpid, "ACCEPTED"), AS_CONSUMER) == "ACCEPTED"
    _refused(http, f"/{pid}/agreement/verification",
             message("ContractAgreementVerificationMessage", pid, cpid), AS_CONSUMER, pid,
             "ACCEPTED")


def test_cn_03_04_the_same_counter_offer_twice(http: TestClient) -> None:
    pid, cpid = _provider(http, MANUAL)
    _owner_offer(http, pid)
    counter = request_body(MANUAL, "CD123:ACN0304:456", consumer_pid=cpid)
    del counter["callbackAddress"]
    counter["providerPid"] = pid
    assert _ok(http, f"/{pid}/request", counter, AS_CONSUMER) == "REQUESTED"
    _refused(http, f"/{pid}/request", counter, AS_CONSUMER, pid, "REQUESTED")


# --- consumer (CN_C_03) -------------------------------------------------------------------

def _consumer(http: TestClient, *, auto_verify: bool = True) -> tuple[str, str, dict[str, str]]:
    """A consumer negotiation of ours (messages held in the outbox) and the provider's pid."""
    partner = headers_for(http, ["partner"], "did:web:analyst.example")
    resp = http.post("/api/v1/negotiations", headers=partner, json={
        "counterparty_address": "http://provider.invalid/dsp/2025-1", "provider_id": PROVIDER,
        "offer_id": "offerACNC0301", "dataset_id": "ACNC0301", "auto_verify": auto_verify})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"], f"urn:uuid:{uuid.uuid4()}", partner


def _offer_to(pid: str, ppid: str) -> dict[str, Any]:
    return message("ContractOfferMessage", ppid, pid, offer={
        "@type": "Offer", "@id": "offerACNC0301", "permission": [{"action": "use"}],
        "target": "ACNC0301", "assignee": CONSUMER, "assigner": PROVIDER})


def _accepted(http: TestClient, pid: str, ppid: str, partner: dict[str, str]) -> None:
    assert _ok(http, f"/{pid}/offers", _offer_to(pid, ppid), AS_PROVIDER) == "OFFERED"
    resp = http.post(f"/api/v1/negotiations/{pid}/accept", headers=partner)
    assert resp.status_code == 200 and resp.json()["state"] == "ACCEPTED"


def test_cn_c_03_01_finalized_while_requested(http: TestClient) -> None:
    pid, ppid, _ = _consumer(http)
    _refused(http, f"/{pid}/events", event(ppid, pid, "FINALIZED"), AS_PROVIDER, pid,
             "REQUESTED")


def test_cn_c_03_02_agreement_while_offered(http: TestClient) -> None:
    pid, ppid, _ = _consumer(http)
    assert _ok(http, f"/{pid}/offers", _offer_to(pid, ppid), AS_PROVIDER) == "OFFERED"
    _refused(http, f"/{pid}/agreement", agreement_body(ppid, pid, "ACNC0301"), AS_PROVIDER,
             pid, "OFFERED")


def test_cn_c_03_03_finalized_while_offered(http: TestClient) -> None:
    pid, ppid, _ = _consumer(http)
    assert _ok(http, f"/{pid}/offers", _offer_to(pid, ppid), AS_PROVIDER) == "OFFERED"
    _refused(http, f"/{pid}/events", event(ppid, pid, "FINALIZED"), AS_PROVIDER, pid,
             "OFFERED")


def test_cn_c_03_04_finalized_while_accepted(http: TestClient) -> None:
    pid, ppid, partner = _consumer(http)
    _accepted(http, pid, ppid, partner)
    _refused(http, f"/{pid}/events", event(ppid, pid, "FINALIZED"), AS_PROVIDER, pid,
             "ACCEPTED")


def test_cn_c_03_05_a_second_offer_while_accepted(http: TestClient) -> None:
    pid, ppid, partner = _consumer(http)
    _accepted(http, pid, ppid, partner)
    _refused(http, f"/{pid}/offers", _offer_to(pid, ppid), AS_PROVIDER, pid, "ACCEPTED")


def test_cn_c_03_06_finalized_while_agreed(http: TestClient) -> None:
    pid, ppid, partner = _consumer(http, auto_verify=False)
    _accepted(http, pid, ppid, partner)
    assert _ok(http, f"/{pid}/agreement", agreement_body(ppid, pid, "ACNC0301"),
               AS_PROVIDER) == "AGREED"
    _refused(http, f"/{pid}/events", event(ppid, pid, "FINALIZED"), AS_PROVIDER, pid, "AGREED")
    assert "ContractAgreementVerificationMessage" not in sent_types(runtime_of(http), pid)


# --- duplicates ---------------------------------------------------------------------------

def test_a_repeated_first_request_is_the_same_negotiation(http: TestClient) -> None:
    body = request_body(AUTO, "urn:offer:auto")
    first = http.post(DSP + "/request", json=body, headers=AS_CONSUMER)
    second = http.post(DSP + "/request", json=body, headers=AS_CONSUMER)
    assert first.status_code == second.status_code == 201
    assert first.json()["providerPid"] == second.json()["providerPid"]
    assert second.json()["state"] == "AGREED"  # the state now: a repeat changes nothing
    assert sent_types(runtime_of(http), first.json()["providerPid"]) == [
        "ContractAgreementMessage"]
    # Another consumer cannot take over that consumerPid.
    assert http.post(DSP + "/request", json=body, headers=STRANGER).status_code == 400


@pytest.mark.parametrize("repeat", ["accepted", "verification", "termination"])
def test_provider_side_repeats_have_the_effect_of_one(http: TestClient, repeat: str) -> None:
    runtime = runtime_of(http)
    pid, cpid = _provider(http, MANUAL)
    _owner_offer(http, pid)
    path, body = {
        "accepted": (f"/{pid}/events", event(pid, cpid, "ACCEPTED")),
        "verification": (f"/{pid}/agreement/verification",
                         message("ContractAgreementVerificationMessage", pid, cpid)),
        "termination": (f"/{pid}/termination",
                        message("ContractNegotiationTerminationMessage", pid, cpid, code="x",
                                reason=["done"])),
    }[repeat]
    if repeat == "verification":
        _ok(http, f"/{pid}/events", event(pid, cpid, "ACCEPTED"), AS_CONSUMER)
        owner = headers_for(http, ["provider"], OWNER)
        assert http.post(f"/api/v1/negotiations/{pid}/agree", headers=owner).status_code == 200
    state = _ok(http, path, body, AS_CONSUMER)
    history, sent = events(runtime, pid), sent_types(runtime, pid)
    assert _ok(http, path, body, AS_CONSUMER) == state
    assert events(runtime, pid) == history and sent_types(runtime, pid) == sent
    if repeat == "termination":
        assert negotiation(runtime, pid).reason == [{"message": "done"}]


def test_a_repeated_agreement_after_auto_verification_changes_nothing(
        http: TestClient) -> None:
    runtime = runtime_of(http)
    pid, ppid, _ = _consumer(http)
    body = agreement_body(ppid, pid, "ACNC0301")
    assert _ok(http, f"/{pid}/agreement", body, AS_PROVIDER) == "AGREED"
    assert _state(http, pid, AS_PROVIDER) == "VERIFIED"
    assert _ok(http, f"/{pid}/agreement", body, AS_PROVIDER) == "VERIFIED"
    assert sent_types(runtime, pid).count("ContractAgreementVerificationMessage") == 1
    with Session(runtime.engine) as session:
        count = session.exec(select(func.count()).select_from(Agreement).where(
            col(Agreement.negotiation_id) == pid)).one()
    assert count == 1
    assert _ok(http, f"/{pid}/events", event(ppid, pid, "FINALIZED"), AS_PROVIDER) == "FINALIZED"
    assert _ok(http, f"/{pid}/events", event(ppid, pid, "FINALIZED"), AS_PROVIDER) == "FINALIZED"


# --- bodies, pids, strangers --------------------------------------------------------------

def test_expanded_json_ld_is_accepted(http: TestClient) -> None:
    expanded = expand(request_body(AUTO, "urn:offer:auto"))
    resp = http.post(DSP + "/request", json=expanded, headers=AS_CONSUMER)
    assert resp.status_code == 201, resp.text
    pid = resp.json()["providerPid"]
    verify = expand(message("ContractAgreementVerificationMessage", pid,
                            resp.json()["consumerPid"]))
    assert _ok(http, f"/{pid}/agreement/verification", verify, AS_CONSUMER) == "VERIFIED"


def _bad_bodies(pid: str, cpid: str) -> list[tuple[str, Callable[[TestClient], Any]]]:
    def post(path: str, **kwargs: Any) -> Callable[[TestClient], Any]:
        return lambda h: h.post(DSP + path, headers=AS_CONSUMER, **kwargs)

    verification = message("ContractAgreementVerificationMessage", pid, cpid)
    return [
        ("not JSON", post(f"/{pid}/termination", content=b"{not json")),
        ("empty", post(f"/{pid}/termination", content=b"")),
        ("a JSON array of numbers", post(f"/{pid}/termination", json=[1, 2])),
        ("a string", post("/request", json="hello")),
        ("wrong @type", post(f"/{pid}/termination", json=verification)),
        ("no @type", post(f"/{pid}/events", json={k: v for k, v in verification.items()
                                                   if k != "@type"})),
        ("missing consumerPid", post(f"/{pid}/agreement/verification",
                                     json={k: v for k, v in verification.items()
                                           if k != "consumerPid"})),
        ("unknown context", post("/request", json={**request_body(AUTO, "urn:offer:auto"),
                                                   "@context": ["https://evil.example/ctx"]})),
        ("path and body disagree", post(f"/{pid}/agreement/verification",
                                        json=message("ContractAgreementVerificationMessage",
                                                     "urn:uuid:other", cpid))),
        ("someone else's consumerPid", post(f"/{pid}/agreement/verification",
                                            json=message("ContractAgreementVerificationMessage",
                                                         pid, "urn:uuid:other"))),
        ("a later request on the first path", post("/request", json={
            **request_body(AUTO, "urn:offer:auto"), "providerPid": pid})),
        ("a first request on a later path", post(f"/{pid}/request",
                                                 json=request_body(AUTO, "urn:offer:auto"))),
        ("bad event type", post(f"/{pid}/events", json={**event(pid, cpid, "ACCEPTED"),
                                                        "eventType": "DONE"})),
        ("deep nesting", post(f"/{pid}/termination",
                              content=b"[" * 100000 + b"]" * 100000)),
    ]


def test_malformed_messages_are_dsp_errors_never_500(http: TestClient) -> None:
    pid, cpid = _provider(http, MANUAL)
    for what, call in _bad_bodies(pid, cpid):
        resp = call(http)
        assert resp.status_code == 400, (what, resp.status_code, resp.text)
        assert resp.json()["@type"] == "ContractNegotiationError", what
    assert _state(http, pid, AS_CONSUMER) == "REQUESTED"


def test_unknown_pids_and_strangers_get_404(http: TestClient) -> None:
    pid, cpid = _provider(http, MANUAL)
    nobody = f"urn:uuid:{uuid.uuid4()}"
    assert http.get(f"{DSP}/{nobody}", headers=AS_CONSUMER).status_code == 404
    resp = http.post(f"{DSP}/{nobody}/termination", headers=AS_CONSUMER,
                     json=message("ContractNegotiationTerminationMessage", nobody, cpid))
    assert resp.status_code == 404 and resp.json()["@type"] == "ContractNegotiationError"
    assert http.get(f"{DSP}/{pid}", headers=STRANGER).status_code == 404
    resp = http.post(f"{DSP}/{pid}/termination", headers=STRANGER,
                     json=message("ContractNegotiationTerminationMessage", pid, cpid))
    assert resp.status_code == 404
    assert http.get(f"{DSP}/{pid}").status_code == 401
    assert _state(http, pid, AS_CONSUMER) == "REQUESTED"


def test_the_wrong_role_for_a_message_is_an_illegal_transition(http: TestClient) -> None:
    """A provider's message to a negotiation where we are the provider (the paths are shared)."""
    pid, cpid = _provider(http, AUTO)
    _refused(http, f"/{pid}/agreement", agreement_body(pid, cpid, AUTO), AS_CONSUMER, pid,
             "AGREED")
    assert outbox(runtime_of(http), pid)[0].body["@type"] == "ContractAgreementMessage"


UNSENDABLE = ["http://xn--/cb", "https://" + "a" * 300 + "/cb", "http://a..b/cb", "http://[/cb",
              "ftp://consumer.example/cb"]


@pytest.mark.parametrize("callback", UNSENDABLE)
def test_a_callback_address_no_message_could_reach_is_refused(http: TestClient,
                                                              callback: str) -> None:
    """Accepted, it would be stored and fail every later send from the outbox, unseen."""
    body = request_body(AUTO, "urn:offer:auto", callback=callback)
    resp = http.post(DSP + "/request", json=body, headers=AS_CONSUMER)
    assert resp.status_code == 400, resp.text
    assert resp.json()["@type"] == "ContractNegotiationError"
    assert "callbackAddress" in " ".join(map(str, resp.json()["reason"]))
    with Session(runtime_of(http).engine) as session:
        assert session.exec(select(func.count()).select_from(Agreement)).one() == 0


@pytest.mark.parametrize("path", ["/api/v1/negotiations", "/api/v1/agreements"])
def test_a_cursor_nested_too_deep_is_a_bad_request(http: TestClient, path: str) -> None:
    nested = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    resp = http.get(path, params={"cursor": nested},
                    headers=headers_for(http, ["partner"], CONSUMER))
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
