"""The provider side over HTTP: auto and manual starts, denials with reasons, the TCK's
illegal moves (TP_03), repeats, and the owner's management actions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from connector.audit.models import AuditEntry
from connector.transfer.models import Transfer
from tests.integration.test_transfer_kit import (
    AS_CONSUMER,
    AS_PROVIDER,
    CONSUMER,
    DSP,
    OWNER,
    PUSH,
    client,
    count_at_most,
    data_token,
    events,
    headers_for,
    message,
    outbox,
    request_body,
    runtime_of,
    seed,
    sent_types,
    transfer,
)

CONTENT = b"sensor,pm10\nlindenhorst,17\neving,21\n" * 50


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    with client(data_dir, database_url) as http:
        yield http


def _request(http: TestClient, agreement_id: str, consumer_pid: str = "urn:uuid:c-1",
             **kwargs: Any) -> str:
    resp = http.post(f"{DSP}/request", headers=AS_CONSUMER,
                     json=request_body(agreement_id, consumer_pid=consumer_pid, **kwargs))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["@type"] == "TransferProcess" and body["state"] == "REQUESTED"
    assert body["consumerPid"] == consumer_pid
    return str(body["providerPid"])


def _state(http: TestClient, pid: str) -> str:
    resp = http.get(f"{DSP}/{pid}", headers=AS_CONSUMER)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["state"])


def _path(kind: str) -> str:
    return {"Start": "start", "Completion": "completion", "Suspension": "suspension",
            "Termination": "termination"}[kind]


def _post(http: TestClient, kind: str, pid: str, consumer_pid: str = "urn:uuid:c-1") -> Any:
    return http.post(f"{DSP}/{pid}/{_path(kind)}", headers=AS_CONSUMER,
                     json=message(kind, pid, consumer_pid))


def _audit_types(http: TestClient, pid: str) -> list[str]:
    with Session(runtime_of(http).engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.idx))).all()
    return [json.loads(r.body)["type"] for r in rows if pid.encode() in r.body]


def test_auto_start_pull_complete(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, "urn:agreement:auto", content=CONTENT)
    pid = _request(http, "urn:agreement:auto")
    assert _state(http, pid) == "STARTED"
    start = outbox(runtime, pid)[0]
    assert start.url == "http://consumer.invalid/dsp/2025-1/transfers/urn:uuid:c-1/start"
    address = start.body["dataAddress"]
    assert address["endpoint"] == f"http://testserver/data/{pid}"
    assert address["endpointType"] == "https://w3id.org/idsa/v4.1/HTTP"

    data = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {data_token(runtime, pid)}"})
    assert data.status_code == 200 and data.content == CONTENT
    assert data.headers["content-length"] == str(len(CONTENT))
    row = transfer(runtime, pid)
    assert (row.pulls, row.bytes_sent) == (1, len(CONTENT))
    assert row.sha256 == hashlib.sha256(CONTENT).hexdigest()

    done = _post(http, "Completion", pid)
    assert done.status_code == 200 and done.json()["state"] == "COMPLETED"
    assert events(runtime, pid) == [(None, "REQUESTED"), ("REQUESTED", "STARTED"),
                                    ("STARTED", "COMPLETED")]
    assert _audit_types(http, pid) == ["transfer.requested", "policy.decision",
                                       "transfer.started", "policy.decision", "transfer.pull",
                                       "transfer.completed"]


def test_manual_waits_for_the_owner(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, "urn:agreement:manual", mode="manual", content=CONTENT)
    pid = _request(http, "urn:agreement:manual")
    assert _state(http, pid) == "REQUESTED" and sent_types(runtime, pid) == []
    owner = headers_for(http, ["provider"], OWNER)
    other = headers_for(http, ["provider"], "did:web:someone-else.example")
    assert http.post(f"/api/v1/transfers/{pid}/start", headers=other).status_code == 404
    assert http.post(f"/api/v1/transfers/{pid}/start", headers=owner).json()["state"] == \
        "STARTED"
    first = data_token(runtime, pid)
    suspended = http.post(f"/api/v1/transfers/{pid}/suspend", headers=owner,
                          json={"code": "maintenance", "reason": "sensor recalibration"})
    assert suspended.json()["state"] == "SUSPENDED"
    refused = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {first}"})
    assert refused.status_code == 403 and "SUSPENDED" in refused.json()["detail"]
    assert http.post(f"/api/v1/transfers/{pid}/resume", headers=owner).json()["state"] == \
        "STARTED"
    assert data_token(runtime, pid) != first  # a resume hands out a fresh token
    assert http.post(f"/api/v1/transfers/{pid}/complete", headers=owner).json()["state"] == \
        "COMPLETED"
    late = http.post(f"/api/v1/transfers/{pid}/terminate", headers=owner)
    assert late.status_code == 409 and late.headers["content-type"] == "application/problem+json"
    assert sent_types(runtime, pid) == ["TransferStartMessage", "TransferSuspensionMessage",
                                        "TransferStartMessage", "TransferCompletionMessage"]
    suspension = outbox(runtime, pid)[1].body
    assert suspension["code"] == "maintenance"
    assert suspension["reason"] == ["maintenance: sensor recalibration"]


def test_denied_request_is_terminated_with_the_reasons(http: TestClient) -> None:
    runtime = runtime_of(http)
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    seed(runtime, "urn:agreement:expired",
         {"leftOperand": "dateTime", "operator": "lteq", "rightOperand": past})
    pid = _request(http, "urn:agreement:expired")
    assert _state(http, pid) == "TERMINATED"
    row = transfer(runtime, pid)
    assert row.reason and row.reason[0]["code"]
    termination = outbox(runtime, pid)[0].body
    assert termination["@type"] == "TransferTerminationMessage"
    assert termination["code"] == "policy-denied"
    assert termination["reason"][0].startswith(row.reason[0]["code"] + ": ")
    assert _post(http, "Start", pid).status_code == 400


def test_count_is_checked_again_at_each_pull(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, "urn:agreement:once", count_at_most(1), content=CONTENT)
    pid = _request(http, "urn:agreement:once")
    auth = {"Authorization": f"Bearer {data_token(runtime, pid)}"}
    assert http.get(f"/data/{pid}", headers=auth).status_code == 200
    again = http.get(f"/data/{pid}", headers=auth)
    assert again.status_code == 403
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("policy-denied")
    assert [r["code"] for r in again.json()["reasons"]]
    assert transfer(runtime, pid).pulls == 1
    # A second transfer under the same agreement is denied from the start.
    second = _request(http, "urn:agreement:once", consumer_pid="urn:uuid:c-2")
    assert _state(http, second) == "TERMINATED"


def _with_authorization(body: dict[str, Any], value: str) -> dict[str, Any]:
    body["dataAddress"]["endpointProperties"] = [
        {"@type": "EndpointProperty", "name": "authorization", "value": value}]
    return body


@pytest.mark.parametrize(("body", "why"), [
    (request_body("urn:agreement:nope"), "no agreement"),
    (request_body("urn:agreement:theirs"), "no agreement"),
    (request_body("urn:agreement:mine", fmt="HttpData-FTP"), "format"),
    (request_body("urn:agreement:mine", fmt=PUSH), "dataAddress"),
    ({**request_body("urn:agreement:mine"), "@type": "TransferStartMessage"}, "wrong @type"),
    ({"consumerPid": "x"}, "@context"),
    (request_body("urn:agreement:mine", callback="http://xn--/cb"), "callbackAddress"),
    (request_body("urn:agreement:mine", callback="http://a..b/cb"), "callbackAddress"),
    (request_body("urn:agreement:mine", fmt=PUSH, push_to="https://" + "a" * 300 + "/in"),
     "endpoint"),
    (_with_authorization(request_body("urn:agreement:mine", fmt=PUSH,
                                      push_to="https://consumer.example/in"), "é"),
     "printable ASCII"),
])
def test_bad_requests_are_transfer_errors(http: TestClient, body: dict[str, Any],
                                          why: str) -> None:
    runtime = runtime_of(http)
    seed(runtime, "urn:agreement:mine")
    seed(runtime, "urn:agreement:theirs", assignee="did:web:other.example")
    resp = http.post(f"{DSP}/request", headers=AS_CONSUMER, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["@type"] == "TransferError"
    assert why in " ".join(str(r) for r in resp.json()["reason"])
    with Session(runtime.engine) as session:
        assert session.exec(select(Transfer)).all() == []


def test_not_json_is_a_transfer_error(http: TestClient) -> None:
    resp = http.post(f"{DSP}/request", headers={**AS_CONSUMER, "Content-Type":
                                                "application/json"}, content=b"{nope")
    assert resp.status_code == 400 and resp.json()["@type"] == "TransferError"


def test_duplicate_deliveries_have_the_effect_of_one(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, "urn:agreement:dup")
    body = request_body("urn:agreement:dup", consumer_pid="urn:uuid:c-dup")
    first = http.post(f"{DSP}/request", headers=AS_CONSUMER, json=body)
    second = http.post(f"{DSP}/request", headers=AS_CONSUMER, json=body)
    assert first.status_code == second.status_code == 201
    pid = first.json()["providerPid"]
    assert second.json()["providerPid"] == pid and second.json()["state"] == "STARTED"
    for kind in ("Suspension", "Suspension", "Termination", "Termination"):
        assert _post(http, kind, pid, "urn:uuid:c-dup").status_code == 200
    assert events(runtime, pid) == [(None, "REQUESTED"), ("REQUESTED", "STARTED"),
                                    ("STARTED", "SUSPENDED"), ("SUSPENDED", "TERMINATED")]
    assert sent_types(runtime, pid) == ["TransferStartMessage"]
    # The same consumerPid from another consumer, or for another agreement, is refused.
    seed(runtime, "urn:agreement:dup2")
    clash = http.post(f"{DSP}/request", headers=AS_CONSUMER,
                      json=request_body("urn:agreement:dup2", consumer_pid="urn:uuid:c-dup"))
    assert clash.status_code == 400


def test_unknown_and_foreign_pids_are_404_transfer_errors(http: TestClient) -> None:
    runtime = runtime_of(http)
    seed(runtime, "urn:agreement:mine")
    pid = _request(http, "urn:agreement:mine")
    for path in (f"{DSP}/urn:uuid:unknown", f"{DSP}/{pid}"):
        resp = http.get(path, headers=AS_PROVIDER if path.endswith(pid) else AS_CONSUMER)
        assert resp.status_code == 404 and resp.json()["@type"] == "TransferError"
    resp = http.post(f"{DSP}/urn:uuid:unknown/completion", headers=AS_CONSUMER,
                     json=message("Completion", "urn:uuid:unknown", "urn:uuid:c-1"))
    assert resp.status_code == 404 and resp.json()["@type"] == "TransferError"
    assert http.get(f"{DSP}/{pid}").status_code in (401, 404)
    mismatch = http.post(f"{DSP}/{pid}/completion", headers=AS_CONSUMER,
                         json=message("Completion", pid, "urn:uuid:someone-else"))
    assert mismatch.status_code == 400 and _state(http, pid) == "STARTED"


# TP_03: (agreement behaviour, consumer messages before, the illegal one, state it stays in)
TP_03 = {
    "TP_03_01": ("manual", [], "Completion", "REQUESTED"),
    "TP_03_02": ("manual", [], "Suspension", "REQUESTED"),
    "TP_03_03": ("auto", ["Suspension"], "Completion", "SUSPENDED"),
    "TP_03_04": ("auto", ["Termination"], "Start", "TERMINATED"),
    "TP_03_05": ("auto", ["Termination"], "Suspension", "TERMINATED"),
    "TP_03_06": ("auto", ["Termination"], "Completion", "TERMINATED"),
}


@pytest.mark.parametrize("case", sorted(TP_03))
def test_tp_03_illegal_messages_are_400_and_change_nothing(http: TestClient, case: str) -> None:
    mode, before, illegal, stays = TP_03[case]
    runtime = runtime_of(http)
    seed(runtime, f"urn:agreement:{case}", mode=mode)
    pid = _request(http, f"urn:agreement:{case}")
    for kind in before:
        assert _post(http, kind, pid).status_code == 200
    assert _state(http, pid) == stays
    history = events(runtime, pid)
    resp = _post(http, illegal, pid)
    assert resp.status_code == 400, resp.text
    error = resp.json()
    assert error["@type"] == "TransferError"
    assert (error["providerPid"], error["consumerPid"]) == (pid, "urn:uuid:c-1")
    assert _state(http, pid) == stays and events(runtime, pid) == history


def test_owner_lists_and_reads_only_their_transfers(http: TestClient) -> None:
    runtime = runtime_of(http)
    for n in range(5):
        seed(runtime, f"urn:agreement:list-{n}")
        _request(http, f"urn:agreement:list-{n}", consumer_pid=f"urn:uuid:c-list-{n}")
    owner = headers_for(http, ["provider"], OWNER)
    page = http.get("/api/v1/transfers", params={"limit": 2}, headers=owner).json()
    seen = [t["id"] for t in page["items"]]
    while page["next_cursor"]:
        page = http.get("/api/v1/transfers", params={"limit": 2, "cursor": page["next_cursor"]},
                        headers=owner).json()
        seen += [t["id"] for t in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    one = http.get(f"/api/v1/transfers/{seen[0]}", headers=owner).json()
    assert one["counterparty"] == CONSUMER and "authorization" not in json.dumps(one)
    stranger = headers_for(http, ["provider"], "did:web:stranger.example")
    assert http.get("/api/v1/transfers", headers=stranger).json()["items"] == []
    assert http.get(f"/api/v1/transfers/{seen[0]}", headers=stranger).status_code == 404
    partner = headers_for(http, ["partner"], OWNER)  # the owner's id, but no scope offers
    assert http.get(f"/api/v1/transfers/{seen[0]}", headers=partner).status_code == 403
    assert http.get("/api/v1/transfers", params={"cursor": "bogus"},
                    headers=owner).status_code == 400
    assert http.get("/api/v1/transfers", headers=headers_for(
        http, ["auditor"], OWNER)).status_code == 403
