"""The consumer side over HTTP: asking for a transfer, the provider's messages (TP_C_01), our
own actions (TP_C_02), the TCK's illegal moves (TP_C_03), and fetching the data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_transfer_kit import (
    AS_PROVIDER,
    CONSUMER,
    DSP,
    PROVIDER,
    PULL,
    PUSH,
    client,
    events,
    headers_for,
    message,
    runtime_of,
    seed,
    sent_types,
    transfer,
    wait_for,
)
from tests.integration.test_transfer_servers import Receiver, receiver

CONTENT = b"time,pm25\n2026-11-28T12:00Z,8\n" * 100


@pytest.fixture
def provider_side() -> Iterator[Receiver]:
    with receiver() as recv:
        yield recv


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    with client(data_dir, database_url, dsp_callback_delay=0) as http:
        yield http


def _ask(http: TestClient, address: str, agreement_id: str, fmt: str = PULL,
         **extra: Any) -> tuple[str, dict[str, str]]:
    seed(runtime_of(http), agreement_id, role="consumer", assigner=PROVIDER,
         assignee=CONSUMER)
    me = headers_for(http, ["partner"], CONSUMER)
    resp = http.post("/api/v1/transfers", headers=me, json={
        "counterparty_address": address, "provider_id": PROVIDER,
        "agreement_id": agreement_id, "format": fmt, **extra})
    assert resp.status_code == 201, resp.text
    assert resp.json()["state"] == "REQUESTED" and resp.json()["role"] == "consumer"
    return str(resp.json()["id"]), me


def _acknowledged(http: TestClient, pid: str) -> str:
    row = wait_for(lambda: (t := transfer(runtime_of(http), pid)).provider_pid and t)
    return str(row.provider_pid)


def _from_provider(http: TestClient, kind: str, pid: str, provider_pid: str,
                   **fields: Any) -> Any:
    path = {"Start": "start", "Completion": "completion", "Suspension": "suspension",
            "Termination": "termination"}[kind]
    return http.post(f"{DSP}/{pid}/{path}", headers=AS_PROVIDER,
                     json=message(kind, provider_pid, pid, **fields))


def _state(http: TestClient, pid: str) -> str:
    resp = http.get(f"{DSP}/{pid}", headers=AS_PROVIDER)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["state"])


def _address(endpoint: str, token: str = "tok-1") -> dict[str, Any]:
    return {"@type": "DataAddress", "endpoint": endpoint,
            "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
            "endpointProperties": [
                {"@type": "EndpointProperty", "name": "authorization", "value": token},
                {"@type": "EndpointProperty", "name": "authType", "value": "bearer"}]}


def test_request_then_provider_driven_flow(http: TestClient, provider_side: Receiver) -> None:
    pid, me = _ask(http, provider_side.base + "/", "urn:agreement:c-flow")
    provider_pid = _acknowledged(http, pid)
    sent = provider_side.of_type("TransferRequestMessage")[0]
    assert sent.path == "/transfers/request"
    assert sent.headers["authorization"] == "Bearer b-token"
    assert sent.json["consumerPid"] == pid and sent.json["format"] == PULL
    assert sent.json["callbackAddress"] == "http://testserver/dsp/2025-1"
    assert _state(http, pid) == "REQUESTED"
    started = _from_provider(http, "Start", pid, provider_pid,
                             dataAddress=_address("http://example.com"))
    assert started.status_code == 200 and _state(http, pid) == "STARTED"
    shown = http.get(f"/api/v1/transfers/{pid}", headers=me).json()
    assert shown["data_address"]["endpoint"] == "http://example.com"
    assert "tok-1" not in str(shown)
    assert _from_provider(http, "Suspension", pid, provider_pid).status_code == 200
    assert _state(http, pid) == "SUSPENDED"
    assert _from_provider(http, "Start", pid, provider_pid,
                          dataAddress=_address("http://example.com")).status_code == 200
    assert _from_provider(http, "Completion", pid, provider_pid).status_code == 200
    assert _state(http, pid) == "COMPLETED"
    assert events(runtime_of(http), pid) == [
        (None, "REQUESTED"), ("REQUESTED", "STARTED"), ("STARTED", "SUSPENDED"),
        ("SUSPENDED", "STARTED"), ("STARTED", "COMPLETED")]


def test_consumer_driven_suspend_resume_terminate(http: TestClient,
                                                  provider_side: Receiver) -> None:
    pid, me = _ask(http, provider_side.base, "urn:agreement:c-drive")
    provider_pid = _acknowledged(http, pid)
    _from_provider(http, "Start", pid, provider_pid, dataAddress=_address("http://example.com"))
    for action, state in (("suspend", "SUSPENDED"), ("resume", "STARTED"),
                          ("terminate", "TERMINATED")):
        resp = http.post(f"/api/v1/transfers/{pid}/{action}", headers=me,
                         json={"reason": f"{action} by the partner"})
        assert resp.status_code == 200 and resp.json()["state"] == state
    wait_for(lambda: provider_side.of_type("TransferTerminationMessage"))
    paths = [r.path for r in provider_side.received]
    assert paths == ["/transfers/request", f"/transfers/{provider_pid}/suspension",
                     f"/transfers/{provider_pid}/start",
                     f"/transfers/{provider_pid}/termination"]
    termination = provider_side.of_type("TransferTerminationMessage")[0].json
    assert termination["reason"] == ["terminate: terminate by the partner"]


def test_terminate_from_requested_and_the_wait_for_the_provider(
        data_dir: Path, database_url: str, provider_side: Receiver) -> None:
    with client(data_dir, database_url) as held:  # messages held back: no answer yet
        pid, me = _ask(held, provider_side.base, "urn:agreement:c-early")
        early = held.post(f"/api/v1/transfers/{pid}/terminate", headers=me)
        assert early.status_code == 409 and transfer(runtime_of(held), pid).state == "REQUESTED"
        # A start that overtakes the answer to our request tells us the providerPid.
        assert _from_provider(held, "Start", pid, "urn:uuid:p-early").status_code == 200
        assert transfer(runtime_of(held), pid).provider_pid == "urn:uuid:p-early"
        assert _from_provider(held, "Suspension", pid, "urn:uuid:p-other").status_code == 400
        assert held.post(f"/api/v1/transfers/{pid}/terminate", headers=me).status_code == 200
        assert sent_types(runtime_of(held), pid) == ["TransferRequestMessage",
                                                     "TransferTerminationMessage"]


# TP_C_03: provider messages before, the illegal one, the state it stays in
TP_C_03 = {
    "TP_C_03_01": ([], "Completion", "REQUESTED"),
    "TP_C_03_02": ([], "Suspension", "REQUESTED"),
    "TP_C_03_03": (["Start", "Suspension"], "Completion", "SUSPENDED"),
    "TP_C_03_04": (["Start", "Termination"], "Start", "TERMINATED"),
    "TP_C_03_05": (["Start", "Termination"], "Suspension", "TERMINATED"),
    "TP_C_03_06": (["Start", "Termination"], "Completion", "TERMINATED"),
}


@pytest.mark.parametrize("case", sorted(TP_C_03))
def test_tp_c_03_illegal_messages_are_400_and_change_nothing(
        http: TestClient, provider_side: Receiver, case: str) -> None:
    before, illegal, stays = TP_C_03[case]
    pid, _ = _ask(http, provider_side.base, f"urn:agreement:{case}")
    provider_pid = _acknowledged(http, pid)
    for kind in before:
        extra = {"dataAddress": _address("http://example.com")} if kind == "Start" else {}
        assert _from_provider(http, kind, pid, provider_pid, **extra).status_code == 200
    history = events(runtime_of(http), pid)
    resp = _from_provider(http, illegal, pid, provider_pid)
    assert resp.status_code == 400, resp.text
    assert resp.json()["@type"] == "TransferError"
    assert _state(http, pid) == stays and events(runtime_of(http), pid) == history


def test_fetch_relays_the_providers_data(http: TestClient, provider_side: Receiver) -> None:
    provider_side.content = CONTENT
    pid, me = _ask(http, provider_side.base, "urn:agreement:c-fetch")
    provider_pid = _acknowledged(http, pid)
    assert http.get(f"/api/v1/transfers/{pid}/data", headers=me).status_code == 403
    _from_provider(http, "Start", pid, provider_pid,
                   dataAddress=_address(provider_side.base + "/data/x", "edr-1"))
    resp = http.get(f"/api/v1/transfers/{pid}/data", headers=me)
    assert resp.status_code == 200 and resp.content == CONTENT
    pulled = next(r for r in provider_side.received if r.path == "/data/x")
    assert pulled.headers["authorization"] == "Bearer edr-1"
    row = transfer(runtime_of(http), pid)
    assert row.sha256 == hashlib.sha256(CONTENT).hexdigest() and row.pulls == 1
    part = http.get(f"/api/v1/transfers/{pid}/data", headers={**me, "Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == CONTENT[:4]
    provider_side.status = 403
    refused = http.get(f"/api/v1/transfers/{pid}/data", headers=me)
    assert refused.status_code == 403 and refused.json()["type"].endswith("provider-refused")
    provider_side.status = 500
    assert http.get(f"/api/v1/transfers/{pid}/data", headers=me).status_code == 502
    stranger = headers_for(http, ["partner"], "did:web:stranger.example")
    assert http.get(f"/api/v1/transfers/{pid}/data", headers=stranger).status_code == 404


def test_push_request_names_the_receiver(http: TestClient, provider_side: Receiver) -> None:
    pid, _ = _ask(http, provider_side.base, "urn:agreement:c-push", fmt=PUSH,
                  push_endpoint="https://receiver.example/in", push_authorization="Bearer s3")
    wait_for(lambda: provider_side.of_type("TransferRequestMessage"))
    address = provider_side.of_type("TransferRequestMessage")[0].json["dataAddress"]
    assert address["endpoint"] == "https://receiver.example/in"
    props = {p["name"]: p["value"] for p in address["endpointProperties"]}
    assert props == {"authorization": "s3", "authType": "bearer"}
    assert transfer(runtime_of(http), pid).format == PUSH


@pytest.mark.parametrize(("body", "status"), [
    ({"format": PUSH}, 400),
    ({"agreement_id": "urn:agreement:none"}, 404),
    ({"provider_id": "did:web:not-the-assigner.example"}, 404),
    ({"counterparty_address": "ftp://x"}, 400),
    ({"format": "HttpData-FTP"}, 422),
])
def test_bad_consumer_requests(http: TestClient, body: dict[str, Any], status: int) -> None:
    seed(runtime_of(http), "urn:agreement:c-bad", role="consumer", assigner=PROVIDER)
    me = headers_for(http, ["partner"], CONSUMER)
    resp = http.post("/api/v1/transfers", headers=me, json={
        "counterparty_address": "http://provider.invalid/dsp/2025-1", "provider_id": PROVIDER,
        "agreement_id": "urn:agreement:c-bad", "format": PULL, **body})
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    provider = headers_for(http, ["provider"], CONSUMER)  # no scope transfer
    assert http.post("/api/v1/transfers", headers=provider, json={}).status_code == 403


def test_a_start_whose_data_address_cannot_be_used_is_refused(http: TestClient,
                                                              provider_side: Receiver) -> None:
    """Stored, it would fail every fetch later (an IDNA error is no HTTP error: a 500)."""
    pid, _ = _ask(http, provider_side.base + "/", "urn:agreement:c-bad-address")
    provider_pid = _acknowledged(http, pid)
    for address in (_address("http://xn--zz.example/data"), _address("http://[::1/data"),
                    _address("http://example.com/data", token="é"),
                    _address("http://example.com/data", token="tok ")):
        refused = _from_provider(http, "Start", pid, provider_pid, dataAddress=address)
        assert refused.status_code == 400, refused.text
        assert refused.json()["@type"] == "TransferError"
    assert _state(http, pid) == "REQUESTED"
