"""The whole consumer journey between two connectors, driven through the consumer's management API.

Two connector instances (own data dir, own database, own signing keys, own port) under uvicorn
talk DSP over real HTTP. They know each other through OAuth2 (``dsp_identity=["oauth2"]``):
each has registered the other connector as a ``partner`` client holding that connector's public
access-token key, and each fetches access tokens for its outgoing DSP messages from the other's
token endpoint (``client_credentials`` + ``private_key_jwt``). Nothing is seeded on the consumer:
catalog → offer → negotiation → agreement → transfer → data, all through ``/api/v1`` of the
consumer (the provider's owner and both auditors look through their own ``/api/v1`` and
``/audit``). The provider runs on the test's database (SQLite and PostgreSQL), the consumer
on a second one of the same kind.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from connector.auth import clients
from connector.catalog.models import Dataset, Offer
from connector.config import Settings
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime
from tests.integration.auth_kit import free_port
from tests.integration.served import Served, start
from tests.integration.test_transfer_kit import wait_for
from tests.integration.test_transfer_servers import receiver, served_headers

PROVIDER = "did:web:provider.example"
CONSUMER = "did:web:consumer.example"
OWNER = "did:web:dew21.example"  # owns the provider's dataset
ANALYST = "did:web:analyst.example"  # the consumer's user who drives the journey
DATASET = "urn:dataset:dortmund-air"
OFFER = "urn:offer:dortmund-air"
PURPOSE = "research"
CONTENT = hashlib.sha256(b"dortmund air").digest() * 70_000  # 2.24 MB: several chunks
DIGEST = hashlib.sha256(CONTENT).hexdigest()
PULL, PUSH = "HttpData-PULL", "HttpData-PUSH"
TIMEOUT = 30.0  # generous: a wait, never an assertion about speed
#: What each side's audit log says about the negotiation, in order.
AGREED = ["negotiation.requested", "negotiation.agreed", "negotiation.verified",
          "negotiation.finalized"]


@contextmanager
def _second_database(request: pytest.FixtureRequest, tmp_path: Path,
                     database_url: str) -> Iterator[str]:
    """A second, empty database of the same kind as ``database_url`` (a file, or a schema)."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'consumer.db'}"
        return
    base = str(request.getfixturevalue("pg_base_url"))
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _settings(data_dir: Path, database_url: str, *, me: str, base: str, other: str,
              client_id: str) -> Settings:
    """OAuth2 DSP identity: tokens for our messages come from the other side's token endpoint."""
    return Settings(data_dir=data_dir, database_url=database_url, public_url=base,
                    participant_id=me, dsp_identity=["oauth2"],
                    dsp_token_url=other + "/oauth/token", dsp_client_id=client_id,
                    dsp_callback_delay=0.0, audit_checkpoint_seconds=3600,
                    audit_checkpoint_entries=100000)


def _trust(runtime: Runtime, participant: str, client_id: str, other: Runtime) -> None:
    """Register the other connector as a partner client with its public access-token key."""
    jwks = {"keys": [other.keys.current("access-token").jwk()]}
    with Session(runtime.engine) as session:
        clients.create_client(session=session, participant=participant, roles=["partner"],
                              jwks=jwks, client_id=client_id)


def _publish(runtime: Runtime) -> None:
    """The provider's dataset: a file in its data dir, offered for research (auto mode)."""
    name = "dortmund-air.csv"
    (runtime.settings.data_dir / name).write_bytes(CONTENT)
    odrl = {"@id": OFFER, "@type": "Offer", "permission": [{"action": "use", "constraint": [
        {"leftOperand": "purpose", "operator": "eq", "rightOperand": PURPOSE}]}]}
    with Session(runtime.engine) as session:
        session.add(Dataset(id=DATASET, title="Luftqualität Dortmund", owner=OWNER,
                            description="Air quality sensors.", personal_data=False,
                            source_kind="file", source=name, media_type="text/csv"))
        session.flush()
        session.add(Offer(id=OFFER, dataset_id=DATASET, odrl=odrl,
                          normalised=normalise_policy(odrl)))
        session.commit()


@pytest.fixture
def pair(request: pytest.FixtureRequest, tmp_path: Path,
         database_url: str) -> Iterator[tuple[Served, Served]]:
    """(provider, consumer), serving, trusting each other through OAuth2."""
    p_port, c_port = free_port(), free_port()
    p_base, c_base = f"http://127.0.0.1:{p_port}", f"http://127.0.0.1:{c_port}"
    with _second_database(request, tmp_path, database_url) as consumer_db:
        p_rt = Runtime.start(_settings(tmp_path / "provider", database_url, me=PROVIDER,
                                       base=p_base, other=c_base, client_id="dsp-provider"))
        c_rt = Runtime.start(_settings(tmp_path / "consumer", consumer_db, me=CONSUMER,
                                       base=c_base, other=p_base, client_id="dsp-consumer"))
        assert p_rt.keys.current("access-token").kid != c_rt.keys.current("access-token").kid
        _trust(p_rt, CONSUMER, "dsp-consumer", c_rt)
        _trust(c_rt, PROVIDER, "dsp-provider", p_rt)
        _publish(p_rt)
        provider = start(p_rt, p_base, p_port)
        try:
            consumer = start(c_rt, c_base, c_port)
        except BaseException:
            provider.stop()
            c_rt.close()
            raise
        try:
            yield provider, consumer
        finally:
            consumer.stop()
            provider.stop()


def _get(served: Served, path: str, headers: dict[str, str], **params: Any) -> Any:
    resp = httpx.get(served.base + path, headers=headers, params=params, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _post(served: Served, path: str, headers: dict[str, str], body: Any = None,
          status: int = 200) -> Any:
    resp = httpx.post(served.base + path, headers=headers, json=body, timeout=TIMEOUT)
    assert resp.status_code == status, resp.text
    return resp.json()


def _in_state(served: Served, path: str, headers: dict[str, str], state: str) -> Any:
    """Poll a management resource until it is in ``state`` (fails fast on TERMINATED)."""
    def check() -> Any:
        body = _get(served, path, headers)
        assert body["state"] == state or body["state"] != "TERMINATED", body
        return body if body["state"] == state else None
    return wait_for(check, TIMEOUT)


def _agree(provider: Served, consumer: Served) -> tuple[str, dict[str, str], dict[str, str]]:
    """Catalog → offer → negotiation → FINALIZED on both sides; returns (agreement id,
    the analyst's headers at the consumer, the owner's headers at the provider)."""
    analyst = served_headers(consumer, ["partner"], ANALYST)
    owner = served_headers(provider, ["provider"], OWNER)
    # Only tokens prove who a connector is here: an anonymous DSP request is refused.
    anonymous = httpx.post(provider.dsp + "/catalog/request", timeout=TIMEOUT, json={
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "CatalogRequestMessage"})
    assert anonymous.status_code == 401, anonymous.text

    answer = _post(consumer, "/api/v1/remote/catalog", analyst,
                   {"counterparty_address": provider.dsp, "counterparty": PROVIDER})
    catalog = answer["catalog"]
    assert catalog["participantId"] == PROVIDER
    datasets = {d["@id"]: d for d in catalog["dataset"]}
    assert set(datasets) == {DATASET}
    dataset = datasets[DATASET]
    assert dataset["dct:title"] == "Luftqualität Dortmund"
    assert dataset["dct:publisher"] == {"@id": OWNER}
    assert {d["format"] for d in dataset["distribution"]} == {PULL, PUSH}
    [offer] = [o for o in dataset["hasPolicy"] if o["@id"] == OFFER]

    started = _post(consumer, "/api/v1/negotiations", analyst, {
        "counterparty_address": provider.dsp, "provider_id": catalog["participantId"],
        "offer": offer, "dataset_id": dataset["@id"], "purpose": PURPOSE}, status=201)
    assert started["state"] == "REQUESTED" and started["role"] == "consumer"
    cpid = started["id"]
    mine = _in_state(consumer, f"/api/v1/negotiations/{cpid}", analyst, "FINALIZED")
    ppid, agreement_id = mine["provider_pid"], mine["agreement_id"]
    assert ppid and agreement_id
    assert [e["to_state"] for e in mine["events"]] == [
        "REQUESTED", "AGREED", "VERIFIED", "FINALIZED"]
    theirs = _in_state(provider, f"/api/v1/negotiations/{ppid}", owner, "FINALIZED")
    assert theirs["role"] == "provider" and theirs["consumer_pid"] == cpid
    assert theirs["counterparty"] == CONSUMER and theirs["agreement_id"] == agreement_id

    for served, headers, role in ((consumer, analyst, "consumer"),
                                  (provider, owner, "provider")):
        agreement = _get(served, f"/api/v1/agreements/{agreement_id}", headers)
        assert agreement["role"] == role and agreement["status"] == "active"
        assert agreement["dataset_id"] == DATASET and agreement["purpose"] == PURPOSE
        assert agreement["assigner"] == PROVIDER and agreement["assignee"] == CONSUMER
        assert agreement["odrl"]["@id"] == agreement_id
    return agreement_id, analyst, owner


def _audit(served: Served) -> list[dict[str, Any]]:
    """Every entry of ``served``'s audit log about the dataset, through its audit API."""
    auditor = served_headers(served, ["auditor"], "did:web:auditor.example")
    entries, cursor = [], None
    while True:
        params: dict[str, Any] = {"dataset": DATASET, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = _get(served, "/audit/entries", auditor, **params)
        entries += [item["entry"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return entries


def _process_types(entries: list[dict[str, Any]]) -> list[str]:
    """The entry types of the negotiation and the transfer, in log order (policy decisions
    and other entries left out)."""
    return [str(e["type"]) for e in entries
            if str(e["type"]).startswith(("negotiation.", "transfer."))]


def test_catalog_negotiation_and_pull_through_the_consumers_api(
        pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    agreement_id, analyst, owner = _agree(provider, consumer)

    started = _post(consumer, "/api/v1/transfers", analyst, {
        "counterparty_address": provider.dsp, "provider_id": PROVIDER,
        "agreement_id": agreement_id, "format": PULL}, status=201)
    pid = started["id"]
    mine = _in_state(consumer, f"/api/v1/transfers/{pid}", analyst, "STARTED")
    provider_pid = mine["provider_pid"]
    assert provider_pid and mine["dataset_id"] == DATASET and mine["role"] == "consumer"
    _in_state(provider, f"/api/v1/transfers/{provider_pid}", owner, "STARTED")

    data = httpx.get(f"{consumer.base}/api/v1/transfers/{pid}/data", headers=analyst,
                     timeout=TIMEOUT)
    assert data.status_code == 200, data.text
    assert data.content == CONTENT == (provider.runtime.settings.data_dir
                                       / "dortmund-air.csv").read_bytes()
    assert _get(consumer, f"/api/v1/transfers/{pid}", analyst)["sha256"] == DIGEST
    theirs = wait_for(lambda: (t := _get(provider, f"/api/v1/transfers/{provider_pid}",
                                         owner))["sha256"] and t, TIMEOUT)
    assert theirs["sha256"] == DIGEST and theirs["bytes"] == len(CONTENT)
    assert theirs["pulls"] == 1 and theirs["counterparty"] == CONSUMER

    done = _post(consumer, f"/api/v1/transfers/{pid}/complete", analyst)
    assert done["state"] == "COMPLETED"
    _in_state(provider, f"/api/v1/transfers/{provider_pid}", owner, "COMPLETED")

    p_log, c_log = _audit(provider), _audit(consumer)
    assert _process_types(p_log) == [*AGREED, "transfer.requested", "transfer.started",
                                     "transfer.pull", "transfer.completed"]
    assert _process_types(c_log) == [*AGREED, "transfer.requested", "transfer.started",
                                     "transfer.fetch", "transfer.completed"]
    assert any(e["type"] == "policy.decision" for e in p_log)
    pulls = [e for e in p_log if e["type"] == "transfer.pull"]
    fetches = [e for e in c_log if e["type"] == "transfer.fetch"]
    assert [e["sha256"] for e in pulls] == [DIGEST] == [e["sha256"] for e in fetches]
    completed = [e for e in p_log if e["type"] == "transfer.completed"]
    assert [(e["bytes"], e["sha256"]) for e in completed] == [(len(CONTENT), DIGEST)]
    for entries, counterparty in ((p_log, CONSUMER), (c_log, PROVIDER)):
        process = [e for e in entries if e["type"].startswith(("negotiation.", "transfer."))]
        assert {e.get("participant") for e in process} == {counterparty}
        assert {e.get("dataset") for e in process} == {DATASET}


def test_catalog_negotiation_and_push_into_the_consumers_endpoint(
        pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    agreement_id, analyst, owner = _agree(provider, consumer)

    with receiver() as endpoint:
        started = _post(consumer, "/api/v1/transfers", analyst, {
            "counterparty_address": provider.dsp, "provider_id": PROVIDER,
            "agreement_id": agreement_id, "format": PUSH,
            "push_endpoint": endpoint.base + "/inbox/air",
            "push_authorization": "Bearer consumer-inbox"}, status=201)
        pid = started["id"]
        mine = _in_state(consumer, f"/api/v1/transfers/{pid}", analyst, "COMPLETED")
        pushes = [r for r in endpoint.received if r.path == "/inbox/air"]
        assert len(pushes) == 1 and pushes[0].method == "POST"
        assert pushes[0].size == len(CONTENT) and pushes[0].sha256 == DIGEST
        assert pushes[0].headers["authorization"] == "Bearer consumer-inbox"
        assert endpoint.received == pushes  # nothing but the data reached the endpoint

    provider_pid = mine["provider_pid"]
    theirs = _in_state(provider, f"/api/v1/transfers/{provider_pid}", owner, "COMPLETED")
    assert theirs["format"] == PUSH and theirs["counterparty"] == CONSUMER
    assert theirs["sha256"] == DIGEST and theirs["bytes"] == len(CONTENT)

    p_log, c_log = _audit(provider), _audit(consumer)
    assert _process_types(p_log) == [*AGREED, "transfer.requested", "transfer.started",
                                     "transfer.push", "transfer.completed"]
    assert _process_types(c_log) == [*AGREED, "transfer.requested", "transfer.started",
                                     "transfer.completed"]
    [push] = [e for e in p_log if e["type"] == "transfer.push"]
    assert push["sha256"] == DIGEST
