"""The data plane: tokens, ranges, sources, recording, constant memory, and the provider's push."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from connector.audit.models import AuditEntry
from connector.auth.tokens import issue_access_token
from connector.catalog.models import Dataset
from connector.transfer import tokens
from tests.integration.test_transfer_kit import (
    AS_CONSUMER,
    CONSUMER,
    DSP,
    PUSH,
    client,
    data_token,
    events,
    message,
    request_body,
    runtime_of,
    seed,
    transfer,
    wait_for,
)
from tests.integration.test_transfer_servers import receiver, serve

CONTENT = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    with client(data_dir, database_url) as http:
        yield http


def _started(http: TestClient, agreement_id: str, **seed_args: object) -> tuple[str, str]:
    runtime = runtime_of(http)
    seed(runtime, agreement_id, **seed_args)  # type: ignore[arg-type]
    resp = http.post(f"{DSP}/request", headers=AS_CONSUMER,
                     json=request_body(agreement_id, consumer_pid=f"urn:uuid:{agreement_id}"))
    pid = resp.json()["providerPid"]
    return pid, data_token(runtime, pid)


def _pulls(http: TestClient, pid: str) -> list[dict[str, object]]:
    with Session(runtime_of(http).engine) as session:
        rows = session.exec(select(AuditEntry).where(col(AuditEntry.type) == "transfer.pull")
                            .order_by(col(AuditEntry.idx))).all()
    return [e for e in (json.loads(r.body) for r in rows) if e["transfer"] == pid]


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239),
    ("bytes=10200-999999", 10200, 10239),
])
def test_one_range(http: TestClient, header: str, start: int, end: int) -> None:
    pid, token = _started(http, "urn:agreement:range", content=CONTENT)
    resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}",
                                             "Range": header})
    assert resp.status_code == 206
    assert resp.headers["content-range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert resp.content == CONTENT[start:end + 1]
    entry = _pulls(http, pid)[-1]
    assert entry["bytes"] == end - start + 1 and entry["complete"] is True
    assert entry["sha256"] == hashlib.sha256(CONTENT[start:end + 1]).hexdigest()
    assert entry["range"] == resp.headers["content-range"]


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-2", "bytes=x-"])
def test_other_ranges_get_the_whole(http: TestClient, header: str) -> None:
    pid, token = _started(http, "urn:agreement:whole", content=CONTENT)
    resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}",
                                             "Range": header})
    assert resp.status_code == 200 and resp.content == CONTENT


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=-0"])
def test_unsatisfiable_range_is_416(http: TestClient, header: str) -> None:
    pid, token = _started(http, "urn:agreement:416", content=CONTENT)
    resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}",
                                             "Range": header})
    assert resp.status_code == 416
    assert resp.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert transfer(runtime_of(http), pid).pulls == 0  # the reservation was given back


def test_tokens_that_do_not_fit_are_refused(http: TestClient) -> None:
    runtime = runtime_of(http)
    pid, token = _started(http, "urn:agreement:tok")
    other, other_token = _started(http, "urn:agreement:tok2")
    key = runtime.keys.current("access-token")
    expired = tokens.issue(key, public_url="http://testserver", transfer=pid,
                           agreement="urn:agreement:tok", dataset="d", participant=CONSUMER,
                           lifetime=60, now=time.time() - 3600)
    access, _ = issue_access_token(private_key=key.private_key, kid=key.kid, alg="EdDSA",
                                   issuer="http://testserver", audience="http://testserver",
                                   subject="c", client_id="c", participant=CONSUMER,
                                   scope="transfer", lifetime=60)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    cases = {None: 401, "Bearer": 401, "Basic abc": 401, "Bearer not-a-jwt": 401,
             f"Bearer {expired}": 401, f"Bearer {access}": 401, f"Bearer {tampered}": 401,
             f"Bearer {other_token}": 403}
    for header, status in cases.items():
        resp = http.get(f"/data/{pid}", headers={"Authorization": header} if header else {})
        assert resp.status_code == status, (header, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        if status == 401:
            assert resp.headers["www-authenticate"].startswith("Bearer")
    assert http.get(f"/data/{other}", headers={"Authorization": f"Bearer {token}"}
                    ).status_code == 403
    assert http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"}
                    ).status_code == 200


def test_a_terminated_transfer_gives_no_data(http: TestClient) -> None:
    pid, token = _started(http, "urn:agreement:term")
    http.post(f"{DSP}/{pid}/termination", headers=AS_CONSUMER,
              json=message("Termination", pid, "urn:uuid:urn:agreement:term"))
    resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and "TERMINATED" in resp.json()["detail"]


@pytest.mark.parametrize(("source", "status"), [("../outside.csv", 403), ("missing.csv", 404)])
def test_bad_file_sources(http: TestClient, source: str, status: int) -> None:
    runtime = runtime_of(http)
    (runtime.settings.data_dir.parent / "outside.csv").write_text("secret")
    pid, token = _started(http, f"urn:agreement:src-{status}", source=source)
    resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == status and "secret" not in resp.text
    assert transfer(runtime, pid).pulls == 0


def test_http_source_is_relayed_with_its_range(http: TestClient) -> None:
    with receiver() as origin:
        origin.content = CONTENT
        pid, token = _started(http, "urn:agreement:http", source_kind="http",
                              source=origin.base + "/air.csv")
        full = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
        assert full.status_code == 200 and full.content == CONTENT
        part = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}",
                                                 "Range": "bytes=5-9"})
        assert part.status_code == 206 and part.content == CONTENT[5:10]
        origin.status = 500
        failed = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
        assert failed.status_code == 502
    assert transfer(runtime_of(http), pid).pulls == 2


def test_sql_source_streams_csv_rows(http: TestClient, tmp_path: Path) -> None:
    db = tmp_path / "meters.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE reading (meter TEXT, kwh REAL)")
        conn.executemany("INSERT INTO reading VALUES (?, ?)", [("m1", 0.25), ("m2", 0.5)])
    runtime = runtime_of(http)
    runtime.settings.sql_sources = {"meters": f"sqlite:///{db}"}
    pid, token = _started(http, "urn:agreement:sql", source_kind="sql", source="meters")
    with Session(runtime.engine) as session:
        dataset = session.get(Dataset, "urn:dataset:urn:agreement:sql")
        assert dataset is not None
        dataset.query = "SELECT meter, kwh FROM reading ORDER BY meter"
        session.add(dataset)
        session.commit()
    resp = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.text == "meter,kwh\nm1,0.25\nm2,0.5\n"
    assert _pulls(http, pid)[-1]["sha256"] == hashlib.sha256(resp.content).hexdigest()


def test_fifty_megabytes_stream_in_bounded_memory(data_dir: Path, tmp_path: Path) -> None:
    # 1 MiB chunks (the default is 4 MiB): the bound below is then far under the file's size.
    served = serve(data_dir, f"sqlite:///{tmp_path / 'big.db'}", transfer_chunk_bytes=1 << 20)
    try:
        size = 50 * 1024 * 1024
        block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
        seed(served.runtime, "urn:agreement:big", content=block * 50)
        resp = httpx.post(f"{served.dsp}/transfers/request", headers=AS_CONSUMER,
                          json=request_body("urn:agreement:big"))
        pid = resp.json()["providerPid"]
        token = data_token(served.runtime, pid)
        digest, received = hashlib.sha256(), 0
        tracemalloc.start()
        with httpx.stream("GET", f"{served.base}/data/{pid}", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as stream:
            for chunk in stream.iter_raw(65536):
                digest.update(chunk)
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert received == size
        assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while streaming {size}"
        row = wait_for(lambda: (t := transfer(served.runtime, pid)).sha256 and t)
        assert row.sha256 == digest.hexdigest() and row.bytes_sent == size
    finally:
        served.stop()


def test_push_streams_to_the_consumers_endpoint_then_completes(data_dir: Path,
                                                               database_url: str) -> None:
    with receiver() as consumer_side:
        served = serve(data_dir, database_url, dsp_callback_delay=0)
        try:
            seed(served.runtime, "urn:agreement:push", content=CONTENT * 200)
            body = request_body("urn:agreement:push", fmt=PUSH, callback=consumer_side.base,
                                push_to=consumer_side.base + "/incoming/air.csv")
            body["dataAddress"]["endpointProperties"] = [
                {"@type": "EndpointProperty", "name": "authorization", "value": "secret-1"},
                {"@type": "EndpointProperty", "name": "authType", "value": "bearer"}]
            pid = httpx.post(f"{served.dsp}/transfers/request", headers=AS_CONSUMER,
                             json=body).json()["providerPid"]
            wait_for(lambda: consumer_side.of_type("TransferCompletionMessage"), 20)
            pushed = [r for r in consumer_side.received if r.path == "/incoming/air.csv"]
            assert len(pushed) == 1 and pushed[0].method == "POST"
            assert pushed[0].headers["authorization"] == "Bearer secret-1"
            assert pushed[0].sha256 == hashlib.sha256(CONTENT * 200).hexdigest()
            order = [r.json["@type"] if r.json else r.path for r in consumer_side.received]
            assert order == ["TransferStartMessage", "/incoming/air.csv",
                             "TransferCompletionMessage"]
            row = transfer(served.runtime, pid)
            assert (row.state, row.push_status, row.pulls) == ("COMPLETED", "done", 1)
            assert row.sha256 == pushed[0].sha256
        finally:
            served.stop()


def test_a_failing_push_terminates_with_the_reason(data_dir: Path, database_url: str) -> None:
    with receiver() as consumer_side, receiver(status=500) as broken:
        served = serve(data_dir, database_url, dsp_callback_delay=0)
        try:
            seed(served.runtime, "urn:agreement:push-fail", content=CONTENT)
            pid = httpx.post(f"{served.dsp}/transfers/request", headers=AS_CONSUMER,
                             json=request_body("urn:agreement:push-fail", fmt=PUSH,
                                               callback=consumer_side.base,
                                               push_to=broken.base + "/in")).json()["providerPid"]
            ended = wait_for(lambda: consumer_side.of_type("TransferTerminationMessage"), 20)
            assert ended[0].json["code"] == "push-failed"
            assert "HTTP 500" in ended[0].json["reason"][0]
            row = transfer(served.runtime, pid)
            assert (row.state, row.push_status, row.pulls) == ("TERMINATED", "failed", 0)
            assert events(served.runtime, pid)[-1] == ("STARTED", "TERMINATED")
        finally:
            served.stop()
