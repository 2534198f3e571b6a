"""Helpers for the negotiation tests: settings of two ends, seeded offers, DSP bodies, tokens.

Identities are the ``fixed`` DSP scheme: ``Bearer a-token`` is the consumer
(``did:web:consumer.example``) calling the provider, ``Bearer b-token`` the provider
(``did:web:provider.example``) calling the consumer. A single app in a test plays both ends
when it accepts both tokens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from connector.app import create_app
from connector.catalog.models import Dataset, Offer
from connector.config import Settings
from connector.delivery.models import OutboxMessage
from connector.dsp import DSP_CONTEXT
from connector.negotiation.models import Negotiation, NegotiationEvent
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime
from tests.integration.auth_kit import (
    BASE,
    free_port,
    get_token,
    register,
)
from tests.integration.served import Served, start
from tests.integration.served import served_headers as served_headers

PROVIDER = "did:web:provider.example"
CONSUMER = "did:web:consumer.example"
OWNER = "did:web:dew21.example"
AS_CONSUMER = {"Authorization": "Bearer a-token"}  # the consumer calling the provider
AS_PROVIDER = {"Authorization": "Bearer b-token"}  # the provider calling the consumer
DSP = "/dsp/2025-1/negotiations"
CALLBACK = "http://consumer.invalid/dsp/2025-1"
PURPOSE = "https://w3id.org/dodata/policy#purpose"


def settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """One app that is the provider to ``a-token`` callers and the consumer to ``b-token``
    callers. Messages are held back (``dsp_callback_delay``) so tests can read the outbox."""
    values: dict[str, Any] = {
        "public_url": BASE, "participant_id": PROVIDER, "dsp_identity": ["fixed"],
        "dsp_fixed_credentials": {"Bearer a-token": CONSUMER, "Bearer b-token": PROVIDER},
        "dsp_fixed_outgoing": "Bearer b-token", "dsp_callback_delay": 60.0,
        "audit_checkpoint_seconds": 3600, "audit_checkpoint_entries": 100000, **overrides}
    return Settings(data_dir=data_dir, database_url=database_url, **values)


@contextmanager
def client(data_dir: Path, database_url: str, **overrides: Any) -> Iterator[TestClient]:
    app = create_app(settings(data_dir, database_url, **overrides))
    with TestClient(app) as http:
        yield http


def runtime_of(http: TestClient) -> Runtime:
    app: FastAPI = http.app  # type: ignore[assignment]
    runtime: Runtime = app.state.runtime
    return runtime


def offer_odrl(offer_id: str, *constraints: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": "use"}
    if constraints:
        rule["constraint"] = list(constraints)
    return {"@id": offer_id, "@type": "Offer", "permission": [rule]}


def purpose_is(value: str) -> dict[str, Any]:
    return {"leftOperand": "purpose", "operator": "eq", "rightOperand": value}


# DSP's ODRL profile has no bare booleans as right operands: a typed literal carries it.
APPROVAL = {"leftOperand": "https://w3id.org/dodata/policy#approvalRequired", "operator": "eq",
            "rightOperand": {"@value": True}}


def seed(runtime: Runtime, dataset_id: str, odrl: dict[str, Any], *, mode: str = "auto",
         owner: str = OWNER) -> None:
    """A dataset with one offer, written directly (the catalog API is someone else's)."""
    with Session(runtime.engine) as session:
        if session.get(Dataset, dataset_id) is None:
            session.add(Dataset(id=dataset_id, title=dataset_id, owner=owner,
                                personal_data=False))
        session.add(Offer(id=odrl["@id"], dataset_id=dataset_id, odrl=odrl,
                          normalised=normalise_policy(odrl), mode=mode))
        session.commit()


def request_body(dataset_id: str, offer_id: str, *, consumer_pid: str | None = None,
                 purpose: str | None = None, callback: str = CALLBACK) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@context": [DSP_CONTEXT], "@id": f"urn:uuid:{uuid.uuid4()}",
        "@type": "ContractRequestMessage",
        "consumerPid": consumer_pid or f"urn:uuid:{uuid.uuid4()}",
        "offer": {"@id": offer_id, "@type": "Offer", "target": dataset_id,
                  "permission": [{"action": "use"}]},
        "callbackAddress": callback}
    if purpose is not None:
        body[PURPOSE] = purpose
    return body


def message(kind: str, provider_pid: str, consumer_pid: str, **fields: Any) -> dict[str, Any]:
    return {"@context": [DSP_CONTEXT], "@type": kind, "providerPid": provider_pid,
            "consumerPid": consumer_pid, **fields}


def event(provider_pid: str, consumer_pid: str, event_type: str) -> dict[str, Any]:
    return message("ContractNegotiationEventMessage", provider_pid, consumer_pid,
                   eventType=event_type)


def agreement_body(provider_pid: str, consumer_pid: str, target: str, *,
                   agreement_id: str | None = None, **rules: Any) -> dict[str, Any]:
    odrl = {"@id": agreement_id or f"urn:uuid:{uuid.uuid4()}", "@type": "Agreement",
            "target": target, "assigner": PROVIDER, "assignee": CONSUMER,
            "timestamp": "2026-11-28T12:00:00Z", "permission": [{"action": "use"}], **rules}
    return message("ContractAgreementMessage", provider_pid, consumer_pid, agreement=odrl)


def headers_for(http: TestClient, roles: list[str], participant: str) -> dict[str, str]:
    """A management API bearer token for a new client with ``roles``."""
    app: FastAPI = http.app  # type: ignore[assignment]
    registered = register(app, roles, participant=participant)
    return {"Authorization": "Bearer " + get_token(http, registered)["access_token"]}


def negotiation(runtime: Runtime, pid: str) -> Negotiation:
    with Session(runtime.engine) as session:
        row = session.get(Negotiation, pid)
        assert row is not None
        return row


def events(runtime: Runtime, pid: str) -> list[tuple[str | None, str]]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(NegotiationEvent).where(
            col(NegotiationEvent.negotiation_id) == pid).order_by(col(NegotiationEvent.id)))
        return [(e.from_state, e.to_state) for e in rows]


def outbox(runtime: Runtime, pid: str) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.process_id) == pid)
                            .order_by(col(OutboxMessage.id)))
        return list(rows)


def sent_types(runtime: Runtime, pid: str) -> list[str]:
    return [str(row.body.get("@type")) + (":" + row.body["eventType"]
                                          if "eventType" in row.body else "")
            for row in outbox(runtime, pid)]


def serve(data_dir: Path, database_url: str, **overrides: Any) -> Served:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime.start(settings(data_dir, database_url, public_url=base, **overrides))
    return start(runtime, base, port)


def wait_for(check: Any, seconds: float = 10.0) -> Any:
    """Poll ``check()`` until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {check}")
