"""Garbage in, never a 500 out: DSP bodies, management calls and data-plane headers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from connector.delivery.outbox import FAILURE_HANDLERS
from connector.dsp import DSP_CONTEXT
from connector.transfer.models import Transfer
from tests.integration.test_transfer_kit import (
    AS_CONSUMER,
    DSP,
    OWNER,
    client,
    data_token,
    events,
    headers_for,
    request_body,
    runtime_of,
    seed,
    transfer,
    wait_for,
)
from tests.integration.test_transfer_servers import serve

BODIES: list[Any] = [
    [], [1], {}, "text", 12, {"@type": 5}, {"@context": "x"},
    {"@context": "x", "@type": "TransferRequestMessage"}, {"@context": [DSP_CONTEXT]},
    {"@context": [DSP_CONTEXT], "@type": "TransferStartMessage"},
    {"@context": [DSP_CONTEXT], "@type": "TransferStartMessage", "providerPid": 1,
     "consumerPid": []},
    {"@context": [DSP_CONTEXT], "@type": "TransferTerminationMessage", "providerPid": "p",
     "consumerPid": "c", "reason": []},
    {"@context": [DSP_CONTEXT], "@type": "TransferTerminationMessage", "providerPid": "p",
     "consumerPid": "c", "reason": [{"a": {"b": 1}}], "code": 7},
    {**request_body("urn:agreement:r"), "agreementId": "a" * 5000},
    {**request_body("urn:agreement:r"), "callbackAddress": ["x"]},
]


def test_garbage_is_never_a_500(data_dir: Path, tmp_path: Path) -> None:
    with client(data_dir, f"sqlite:///{tmp_path / 'r.db'}") as http:
        runtime = runtime_of(http)
        seed(runtime, "urn:agreement:r")
        pid = http.post(f"{DSP}/request", headers=AS_CONSUMER,
                        json=request_body("urn:agreement:r")).json()["providerPid"]
        failures = []
        for path in ("/request", f"/{pid}/start", f"/{pid}/completion", f"/{pid}/suspension",
                     f"/{pid}/termination", "/urn:uuid:nobody/start"):
            for body in BODIES:
                for headers in (AS_CONSUMER, {}, {"Authorization": "Bearer zzz"}):
                    resp = http.post(DSP + path, json=body, headers=headers)
                    if resp.status_code >= 500 or resp.status_code < 400:
                        failures.append((path, body, resp.status_code))
            raw = http.post(DSP + path, content=b"\xff\xfe", headers={
                **AS_CONSUMER, "Content-Type": "application/json"})
            assert raw.status_code == 400 and raw.json()["@type"] == "TransferError"
        assert failures == []
        owner = headers_for(http, ["provider", "partner", "admin"], OWNER)
        calls = [("post", "/api/v1/transfers", {"format": 1}), ("post", "/api/v1/transfers", []),
                 ("post", f"/api/v1/transfers/{pid}/start", {"code": ["x"]}),
                 ("post", f"/api/v1/transfers/{pid}/fly", None),
                 ("get", "/api/v1/transfers?limit=0", None),
                 ("get", "/api/v1/transfers?cursor=%ff%fe", None),
                 ("get", f"/api/v1/transfers/{pid}/data", None),
                 ("get", "/api/v1/transfers/nope/data", None), ("get", "/data/nope", None)]
        for method, path, body in calls:
            for headers in (owner, {}):
                extra = {"json": body} if body is not None else {}
                resp = getattr(http, method)(path, headers=headers, **extra)
                assert 400 <= resp.status_code < 500, (path, body, resp.status_code)
        token = data_token(runtime, pid)
        for value in ("bytes=99999999999999999999-", "bytes=-99999999999999999999",
                      "bytes=0-99999999999999999999999", "bytes=\x00"):
            resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}",
                                                     "Range": value})
            assert resp.status_code in (200, 206, 416)


def test_the_same_request_racing_in_twice_makes_one_transfer(data_dir: Path,
                                                              database_url: str) -> None:
    served = serve(data_dir, database_url)
    try:
        for n in range(3):
            seed(served.runtime, f"urn:agreement:race-{n}")
            body = request_body(f"urn:agreement:race-{n}")
            answers: list[httpx.Response] = []

            def ask(body: dict[str, Any] = body, answers: list[httpx.Response] = answers) -> None:
                answers.append(httpx.post(f"{served.dsp}/transfers/request",
                                          headers=AS_CONSUMER, json=body))

            threads = [threading.Thread(target=ask) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert [a.status_code for a in answers] == [201] * 4
            assert len({a.json()["providerPid"] for a in answers}) == 1
        with Session(served.runtime.engine) as session:
            assert len(session.exec(select(Transfer)).all()) == 3
    finally:
        served.stop()


def test_the_failure_handler_terminates_with_the_reason(data_dir: Path,
                                                        database_url: str) -> None:
    with client(data_dir, database_url) as http:
        runtime = runtime_of(http)
        seed(runtime, "urn:agreement:lost")
        pid = http.post(f"{DSP}/request", headers=AS_CONSUMER,
                        json=request_body("urn:agreement:lost")).json()["providerPid"]
        for error in ("ConnectError: refused", "again"):  # a final transfer stays as it is
            with Session(runtime.engine) as session:
                FAILURE_HANDLERS["transfer"](session, pid, error)
                session.commit()
        row = transfer(runtime, pid)
        assert row.state == "TERMINATED"
        assert row.reason == [{"code": "delivery_failed", "message": "ConnectError: refused"}]
        assert events(runtime, pid)[-1] == ("STARTED", "TERMINATED")


def test_an_undeliverable_start_terminates_here(data_dir: Path, database_url: str) -> None:
    with client(data_dir, database_url, dsp_callback_delay=0, dsp_retry_seconds=0.3) as http:
        runtime = runtime_of(http)
        seed(runtime, "urn:agreement:lost")
        pid = http.post(f"{DSP}/request", headers=AS_CONSUMER, json=request_body(
            "urn:agreement:lost", callback="http://127.0.0.1:9/dsp/2025-1")).json()["providerPid"]
        row = wait_for(lambda: (t := transfer(runtime, pid)).state == "TERMINATED" and t, 5)
        assert row.reason[0]["code"] == "delivery_failed"
