"""Helpers for the transfer tests (and the tests of the helpers themselves).

Identities are the ``fixed`` DSP scheme: ``Bearer a-token`` is the consumer
(``did:web:consumer.example``) calling the provider, ``Bearer b-token`` the provider
(``did:web:provider.example``) calling the consumer. Datasets and agreements are written
directly (negotiation and catalog are other people's work). A :class:`Receiver` on a real port
plays the other connector (answers DSP messages, records them) or a push endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from connector.app import create_app
from connector.catalog.models import Dataset
from connector.delivery.models import OutboxMessage
from connector.dsp import DSP_CONTEXT
from connector.negotiation.models import Agreement
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime
from connector.transfer.models import Transfer, TransferEvent
from tests.integration.auth_kit import (
    get_token,
    register,
)
from tests.integration.negotiation_kit import settings
from tests.integration.negotiation_kit import wait_for as wait_for

PROVIDER = "did:web:provider.example"
CONSUMER = "did:web:consumer.example"
OWNER = "did:web:dew21.example"
AS_CONSUMER = {"Authorization": "Bearer a-token"}
AS_PROVIDER = {"Authorization": "Bearer b-token"}
DSP = "/dsp/2025-1/transfers"
CALLBACK = "http://consumer.invalid/dsp/2025-1"
PULL, PUSH = "HttpData-PULL", "HttpData-PUSH"


@contextmanager
def client(data_dir: Path, database_url: str, **overrides: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings(data_dir, database_url, **overrides))) as http:
        yield http


def runtime_of(http: TestClient) -> Runtime:
    app: FastAPI = http.app  # type: ignore[assignment]
    runtime: Runtime = app.state.runtime
    return runtime


def agreement_odrl(agreement_id: str, dataset_id: str, *constraints: dict[str, Any],
                   assigner: str = PROVIDER, assignee: str = CONSUMER) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": "use"}
    if constraints:
        rule["constraint"] = list(constraints)
    return {"@id": agreement_id, "@type": "Agreement", "target": dataset_id,
            "assigner": assigner, "assignee": assignee, "permission": [rule]}


def count_at_most(n: int) -> dict[str, Any]:
    return {"leftOperand": "count", "operator": "lteq", "rightOperand": n}


def seed(runtime: Runtime, agreement_id: str, *constraints: dict[str, Any],
         content: bytes = b"id,value\n1,2\n", mode: str = "auto", role: str = "provider",
         dataset_id: str | None = None, source_kind: str = "file", source: str | None = None,
         assignee: str = CONSUMER, assigner: str = PROVIDER) -> str:
    """A dataset (a file in the data dir) and an agreement on it; returns the dataset id."""
    dataset_id = dataset_id or f"urn:dataset:{agreement_id}"
    name = source or f"{uuid.uuid4().hex}.csv"
    if source_kind == "file" and source is None:
        (runtime.settings.data_dir / name).write_bytes(content)
    odrl = agreement_odrl(agreement_id, dataset_id, *constraints, assigner=assigner,
                          assignee=assignee)
    with Session(runtime.engine) as session:
        if session.get(Dataset, dataset_id) is None:
            session.add(Dataset(id=dataset_id, title=dataset_id, owner=OWNER,
                                personal_data=False, source_kind=source_kind, source=name))
        session.add(Agreement(id=agreement_id, role=role, dataset_id=dataset_id,
                              assigner=assigner, assignee=assignee, odrl=odrl,
                              normalised=normalise_policy(odrl), mode=mode))
        session.commit()
    return dataset_id


def request_body(agreement_id: str, *, consumer_pid: str | None = None, fmt: str = PULL,
                 callback: str = CALLBACK, push_to: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@context": [DSP_CONTEXT], "@id": f"urn:uuid:{uuid.uuid4()}",
        "@type": "TransferRequestMessage",
        "consumerPid": consumer_pid or f"urn:uuid:{uuid.uuid4()}",
        "agreementId": agreement_id, "format": fmt, "callbackAddress": callback}
    if push_to:
        body["dataAddress"] = {"@type": "DataAddress", "endpoint": push_to,
                               "endpointType": "https://w3id.org/idsa/v4.1/HTTP"}
    return body


def message(kind: str, provider_pid: str, consumer_pid: str, **fields: Any) -> dict[str, Any]:
    return {"@context": [DSP_CONTEXT], "@type": f"Transfer{kind}Message",
            "providerPid": provider_pid, "consumerPid": consumer_pid, **fields}


def transfer(runtime: Runtime, pid: str) -> Transfer:
    with Session(runtime.engine) as session:
        row = session.get(Transfer, pid)
        assert row is not None
        return row


def events(runtime: Runtime, pid: str) -> list[tuple[str | None, str]]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(TransferEvent).where(col(TransferEvent.transfer_id) == pid)
                            .order_by(col(TransferEvent.id)))
        return [(e.from_state, e.to_state) for e in rows]


def outbox(runtime: Runtime, pid: str) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(OutboxMessage).where(
            col(OutboxMessage.process_id) == pid).order_by(col(OutboxMessage.id))))


def sent_types(runtime: Runtime, pid: str) -> list[str]:
    return [str(row.body.get("@type")) for row in outbox(runtime, pid)]


def data_token(runtime: Runtime, pid: str) -> str:
    """The token of the last start message queued for ``pid``."""
    starts = [r.body for r in outbox(runtime, pid) if r.body["@type"] == "TransferStartMessage"]
    props = {p["name"]: p["value"] for p in starts[-1]["dataAddress"]["endpointProperties"]}
    assert props["authType"] == "bearer"
    return str(props["authorization"])


def headers_for(http: TestClient, roles: list[str], participant: str) -> dict[str, str]:
    """A management API bearer token for a new client with ``roles``."""
    app: FastAPI = http.app  # type: ignore[assignment]
    registered = register(app, roles, participant=participant)
    return {"Authorization": "Bearer " + get_token(http, registered)["access_token"]}



# -- the helpers' own tests --------------------------------------------------------------------

def test_seed_writes_a_dataset_file_and_an_agreement(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with client(data_dir, f"sqlite:///{tmp_path / 'kit.db'}") as http:
        runtime = runtime_of(http)
        dataset_id = seed(runtime, "urn:agreement:kit", content=b"x")
        with Session(runtime.engine) as session:
            dataset = session.get(Dataset, dataset_id)
            assert dataset is not None
            assert (data_dir / dataset.source).read_bytes() == b"x"
            assert session.get(Agreement, "urn:agreement:kit") is not None
