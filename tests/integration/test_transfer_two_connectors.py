"""Two connectors on real ports, talking DSP over HTTP: pull, push, termination by either side.

The provider knows ``Bearer a-token`` as the consumer and sends ``Bearer b-token``; the
consumer the other way round (``fixed`` identity). Agreements are written into both databases
as the negotiation would have left them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from connector.audit.models import AuditEntry
from connector.runtime import Runtime
from tests.integration.test_transfer_kit import (
    CONSUMER,
    OWNER,
    PROVIDER,
    PULL,
    PUSH,
    seed,
    transfer,
    wait_for,
)
from tests.integration.test_transfer_servers import Served, receiver, serve, served_headers

CONTENT = hashlib.sha256(b"dortmund").digest() * 100_000  # 3.2 MB, several chunks


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    provider = serve(tmp_path / "provider", f"sqlite:///{tmp_path / 'provider.db'}",
                     participant_id=PROVIDER, dsp_callback_delay=0)
    consumer = serve(tmp_path / "consumer", f"sqlite:///{tmp_path / 'consumer.db'}",
                     participant_id=CONSUMER, dsp_callback_delay=0,
                     dsp_fixed_outgoing="Bearer a-token")
    try:
        yield provider, consumer
    finally:
        consumer.stop()
        provider.stop()


def _agree(provider: Served, consumer: Served, agreement_id: str, mode: str = "auto") -> None:
    seed(provider.runtime, agreement_id, content=CONTENT, mode=mode)
    seed(consumer.runtime, agreement_id, role="consumer", content=b"")


def _ask(provider: Served, consumer: Served, agreement_id: str, fmt: str = PULL,
         **extra: str) -> tuple[str, dict[str, str]]:
    me = served_headers(consumer, ["partner"], CONSUMER)
    resp = httpx.post(consumer.base + "/api/v1/transfers", headers=me, json={
        "counterparty_address": provider.dsp, "provider_id": PROVIDER,
        "agreement_id": agreement_id, "format": fmt, **extra})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"]), me


def _state(runtime: Runtime, pid: str, state: str) -> bool:
    return transfer(runtime, pid).state == state


def _audit(runtime: Runtime, kind: str) -> list[dict[str, object]]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(AuditEntry).where(col(AuditEntry.type) == kind)).all()
    return [json.loads(r.body) for r in rows]


def test_pull_over_real_http(pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    _agree(provider, consumer, "urn:agreement:pull")
    pid, me = _ask(provider, consumer, "urn:agreement:pull")
    wait_for(lambda: _state(consumer.runtime, pid, "STARTED"))
    provider_pid = transfer(consumer.runtime, pid).provider_pid
    assert provider_pid and _state(provider.runtime, provider_pid, "STARTED")

    data = httpx.get(f"{consumer.base}/api/v1/transfers/{pid}/data", headers=me, timeout=30)
    assert data.status_code == 200 and data.content == CONTENT
    digest = hashlib.sha256(CONTENT).hexdigest()
    assert transfer(consumer.runtime, pid).sha256 == digest
    assert wait_for(lambda: transfer(provider.runtime, provider_pid).sha256) == digest
    assert [e["sha256"] for e in _audit(provider.runtime, "transfer.pull")] == [digest]
    assert [e["sha256"] for e in _audit(consumer.runtime, "transfer.fetch")] == [digest]

    done = httpx.post(f"{consumer.base}/api/v1/transfers/{pid}/complete", headers=me)
    assert done.status_code == 200 and done.json()["state"] == "COMPLETED"
    wait_for(lambda: _state(provider.runtime, provider_pid, "COMPLETED"))
    completed = _audit(provider.runtime, "transfer.completed")[0]
    assert completed["bytes"] == len(CONTENT) and completed["sha256"] == digest


def test_push_over_real_http(pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    _agree(provider, consumer, "urn:agreement:push")
    with receiver() as sink:
        pid, _ = _ask(provider, consumer, "urn:agreement:push", fmt=PUSH,
                      push_endpoint=sink.base + "/drop", push_authorization="drop-secret")
        wait_for(lambda: _state(consumer.runtime, pid, "COMPLETED"), 20)
        assert len(sink.received) == 1
        assert sink.received[0].sha256 == hashlib.sha256(CONTENT).hexdigest()
        assert sink.received[0].headers["authorization"] == "Bearer drop-secret"
    provider_pid = transfer(consumer.runtime, pid).provider_pid
    assert provider_pid and _state(provider.runtime, provider_pid, "COMPLETED")


def test_manual_provider_starts_then_terminates(pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    _agree(provider, consumer, "urn:agreement:manual", mode="manual")
    pid, me = _ask(provider, consumer, "urn:agreement:manual")
    provider_pid = wait_for(lambda: transfer(consumer.runtime, pid).provider_pid)
    owner = served_headers(provider, ["provider"], OWNER)
    started = httpx.post(f"{provider.base}/api/v1/transfers/{provider_pid}/start",
                         headers=owner)
    assert started.status_code == 200
    wait_for(lambda: _state(consumer.runtime, pid, "STARTED"))
    ended = httpx.post(f"{provider.base}/api/v1/transfers/{provider_pid}/terminate",
                       headers=owner, json={"code": "withdrawn", "reason": "sensor retired"})
    assert ended.json()["state"] == "TERMINATED"
    wait_for(lambda: _state(consumer.runtime, pid, "TERMINATED"))
    assert transfer(consumer.runtime, pid).reason == [
        {"code": "withdrawn", "message": "sensor retired"}]
    refused = httpx.get(f"{consumer.base}/api/v1/transfers/{pid}/data", headers=me)
    assert refused.status_code == 403
