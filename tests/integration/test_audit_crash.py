"""SIGKILL during concurrent audited work: every answered request has its entry; the log verifies.

A real ``connector serve`` process (SQLite by default; PostgreSQL too) serves clients in threads
issuing tokens and giving consent (each answered only after its audit entry committed). The
process is killed with SIGKILL mid-flight, restarted on the same data, and the auditor's export
must hold an entry for every request a client saw answered, and verify against a fresh signed
checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from connector.audit.verify import entries_from_export, verify_log
from connector.cli import app as cli
from tests.conftest import free_port


def _serve(data_dir: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "serve", "--port", str(port),
             "--data-dir", str(data_dir)], env=env, stdout=handle, stderr=handle)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"connector did not start: {log.read_text()[-2000:]}")


def _client(data_dir: Path, env: dict[str, str], role: str, participant: str) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["clients", "create", "--participant", participant,
                                      "--role", role, "--secret", "--json",
                                      "--data-dir", str(data_dir)], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_loses_no_answered_entry(tmp_path: Path, backend: str,
                                         request: pytest.FixtureRequest) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    if backend == "postgresql":
        env["CONNECTOR_DATABASE_URL"] = request.getfixturevalue("pg_url")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env["CONNECTOR_PUBLIC_URL"] = base
    log = tmp_path / "serve.log"
    proc = _serve(data_dir, port, env, log)
    client = _client(data_dir, env, "partner", "did:web:partner.example")
    answered: list[str] = []  # jti of every token a client received
    lock = threading.Lock()
    stop = threading.Event()

    def work() -> None:
        with httpx.Client(base_url=base, timeout=5) as http:
            while not stop.is_set():
                try:
                    resp = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                     auth=(client["client_id"], client["client_secret"]))
                except httpx.HTTPError:
                    continue
                if resp.status_code == 200:
                    claims = jwt.decode(resp.json()["access_token"],
                                        options={"verify_signature": False})
                    with lock:
                        answered.append(claims["jti"])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(answered) > 5, "the load did not get going before the kill"

    proc = _serve(data_dir, port, env, log)
    try:
        auditor = _client(data_dir, env, "auditor", "did:web:audit.example")
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(auditor["client_id"], auditor["client_secret"]))
            headers = {"Authorization": "Bearer " + token.json()["access_token"]}
            size = int(http.get("/audit/checkpoint").text.split("\n")[1])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the signer catches up after the restart
                current = http.get("/audit/checkpoint").text
                if int(current.split("\n")[1]) > size:
                    break
                time.sleep(0.5)
            export = http.get("/audit/export", headers=headers)
            key = http.get("/audit/key").text.strip()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    entries = entries_from_export(export.content)
    result = verify_log(entries, current, key)
    assert result.size == len(entries)
    logged = {json.loads(e).get("jti") for e in entries
              if json.loads(e)["type"] == "token.issued"}
    missing = [jti for jti in answered if jti not in logged]
    assert missing == [], f"{len(missing)} answered tokens have no audit entry"


def test_sigkill_during_concurrent_pulls_loses_no_answered_transfer(tmp_path: Path) -> None:
    """Every pull a client received completely has its transfer.pull entry after a SIGKILL."""
    from connector.config import Settings
    from connector.runtime import Runtime
    from tests.integration import test_transfer_kit as kit

    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update({"CONNECTOR_PUBLIC_URL": base, "CONNECTOR_PARTICIPANT_ID": kit.PROVIDER,
                "CONNECTOR_DSP_IDENTITY": '["fixed"]',
                "CONNECTOR_DSP_FIXED_CREDENTIALS": json.dumps({"Bearer a-token": kit.CONSUMER}),
                "CONNECTOR_DSP_CALLBACK_DELAY": "60"})
    runtime = Runtime.start(Settings(data_dir=data_dir, public_url=base,
                                     participant_id=kit.PROVIDER))
    payload = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(20000))
    kit.seed(runtime, "urn:agreement:crash", content=payload)
    runtime.close()
    log = tmp_path / "serve.log"
    proc = _serve(data_dir, port, env, log)
    resp = httpx.post(f"{base}/dsp/2025-1/transfers/request", headers=kit.AS_CONSUMER,
                      json=kit.request_body("urn:agreement:crash"), timeout=10)
    assert resp.status_code == 201, resp.text
    pid = resp.json()["providerPid"]
    check = Runtime.start(Settings(data_dir=data_dir, public_url=base,
                                   participant_id=kit.PROVIDER), migrate=False)
    try:
        token = kit.data_token(check, pid)
    finally:
        check.close()
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def pull() -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            while not stop.is_set():
                try:
                    got = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError:
                    continue
                if got.status_code == 200 and got.content == payload:
                    with lock:
                        answered.append(pid)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(4)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert len(answered) > 3, "the pulls did not get going before the kill"
    proc = _serve(data_dir, port, env, log)
    try:
        auditor = _client(data_dir, env, "auditor", "did:web:audit.example")
        with httpx.Client(base_url=base, timeout=30) as http:
            token_resp = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(auditor["client_id"], auditor["client_secret"]))
            headers = {"Authorization": "Bearer " + token_resp.json()["access_token"]}
            time.sleep(1.5)  # the signer covers the restart's entries
            note = http.get("/audit/checkpoint").text
            export = http.get("/audit/export", headers=headers)
            key = http.get("/audit/key").text.strip()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    entries = entries_from_export(export.content)
    verify_log(entries, note, key)
    pulls = [json.loads(e) for e in entries if json.loads(e)["type"] == "transfer.pull"]
    complete = [p for p in pulls if p.get("transfer") == pid and p.get("complete")]
    assert len(complete) >= len(answered), (len(complete), len(answered))
    assert all(p["bytes"] == len(payload) for p in complete)
