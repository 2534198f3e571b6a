"""Consent benchmarks: how soon a withdrawal bites, and what row filtering costs.

    python scripts/bench/consent.py [--rounds 30] [--rows 100000] [--subjects 200]

Runs the real app in-process (ASGI, SQLite in a temp dir, the embedded policy engine) with a
personal-data dataset (``meter_id,subject,timestamp,kwh``) under an agreement that needs
consent, and a DSP pull transfer on it.

Withdrawal: each round gives a household's consent through the API (its own ``data_subject``
token), pulls (its rows are served), withdraws with ``POST /api/v1/consents/{id}/withdraw``
and, the moment that call returns, pulls again. Printed: the time from the withdrawal's return
to the end of the first pull without the household's rows, next to a plain pull measured in
the same round (the baseline; the ratio shows there is no extra delay), and how many first
pulls still served the rows (must be 0). A second series withdraws the only consenting
household: the transfer is terminated within the withdrawal call, and the first pull after it
is refused.

Row filtering: the dataset of ``--rows`` rows is read (1) unfiltered, chunk by chunk, and (2)
through the consent row filter with a third of the subjects consenting; also pulled over the
data plane as personal data (filtered) and as the same file not marked personal (unfiltered).
Printed as ms per 100,000 rows and the filtered/unfiltered ratio, interleaved round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from connector.app import create_app
from connector.auth import clients
from connector.catalog.models import Dataset
from connector.config import Settings
from connector.consent import service
from connector.consent.rows import filter_csv
from connector.delivery.models import OutboxMessage
from connector.negotiation.models import Agreement
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime

PROVIDER, CONSUMER = "did:web:bench-provider.example", "did:web:bench-consumer.example"
OWNER = "did:web:bench-owner.example"
PURPOSE = "energy-saving-advice"
CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
AS_CONSUMER = {"Authorization": "Bearer consumer-token"}
CHUNK = 64 * 1024


def subject(n: int) -> str:
    return f"urn:subject:hh-{n:04d}"


def readings(rows: int, subjects: int) -> bytes:
    lines = [b"meter_id,subject,timestamp,kwh\n"]
    for i in range(rows):
        n = i % subjects + 1
        lines.append(b"mtr-%04d,%s,2026-11-%02dT%02d:%02d:00Z,0.%03d\n" % (
            n, subject(n).encode(), 1 + i // 96 % 28, i // 4 % 24, i % 4 * 15, i % 997))
    return b"".join(lines)


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'bench.db'}",
                    public_url="http://testserver", participant_id=PROVIDER,
                    dsp_identity=["fixed"],
                    dsp_fixed_credentials={AS_CONSUMER["Authorization"]: CONSUMER},
                    dsp_fixed_outgoing="Bearer none", dsp_callback_delay=60.0,
                    audit_checkpoint_seconds=3600, log_level="WARNING")


def seed(runtime: Runtime, name: str, content: bytes, *, personal: bool) -> str:
    """A dataset (file) and an agreement on it for PURPOSE (needing consent if ``personal``)."""
    (runtime.settings.data_dir / f"{name}.csv").write_bytes(content)
    dataset_id, agreement_id = f"urn:dataset:{name}", f"urn:agreement:{name}"
    constraints = [{"leftOperand": "purpose", "operator": "eq", "rightOperand": PURPOSE}]
    if personal:
        constraints.append({"leftOperand": "https://w3id.org/dodata/policy#consentRequired",
                            "operator": "eq", "rightOperand": "true"})
    odrl = {"@id": agreement_id, "@type": "Agreement", "target": dataset_id,
            "assigner": PROVIDER, "assignee": CONSUMER,
            "permission": [{"action": "use", "constraint": constraints}]}
    with Session(runtime.engine) as session:
        session.add(Dataset(id=dataset_id, title=name, owner=OWNER, personal_data=personal,
                            subject_column="subject" if personal else None, source_kind="file",
                            source=f"{name}.csv", media_type="text/csv"))
        session.add(Agreement(id=agreement_id, role="provider", dataset_id=dataset_id,
                              assigner=PROVIDER, assignee=CONSUMER, odrl=odrl,
                              normalised=normalise_policy(odrl), purpose=PURPOSE))
        session.commit()
    return agreement_id


def start_pull(http: TestClient, runtime: Runtime, agreement_id: str) -> tuple[str, str]:
    """A started pull transfer: its id and the data plane token."""
    resp = http.post("/dsp/2025-1/transfers/request", headers=AS_CONSUMER, json={
        "@context": [CONTEXT], "@type": "TransferRequestMessage",
        "consumerPid": f"urn:uuid:{uuid.uuid4()}", "agreementId": agreement_id,
        "format": "HttpData-PULL", "callbackAddress": "http://consumer.invalid/dsp/2025-1"})
    if resp.status_code != 201:
        raise SystemExit(f"transfer request refused: {resp.text}")
    pid = str(resp.json()["providerPid"])
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.process_id) == pid))
        starts = [r.body for r in rows if r.body["@type"] == "TransferStartMessage"]
    if not starts:
        raise SystemExit(f"transfer {pid} did not start (is consent given?)")
    props = {p["name"]: p["value"] for p in starts[-1]["dataAddress"]["endpointProperties"]}
    return pid, str(props["authorization"])


def subject_token(http: TestClient, runtime: Runtime, who: str) -> dict[str, str]:
    with Session(runtime.engine) as session:
        record, secret = clients.create_client(session=session, participant=who,
                                               roles=["data_subject"], with_secret=True,
                                               secrets_allowed=True)
    resp = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=(record.client_id, secret or ""))
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def pull(http: TestClient, pid: str, token: str) -> Any:
    return http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1e3:8.2f} ms, p99 " \
           f"{sorted(seconds)[max(int(len(seconds) * 0.99) - 1, 0)] * 1e3:8.2f} ms"


def bench_withdrawal(http: TestClient, runtime: Runtime, rounds: int) -> None:
    content = b"meter_id,subject,timestamp,kwh\n" + b"".join(
        b"mtr-%04d,%s,2026-11-01T00:00:00Z,0.5\n" % (n, subject(n).encode())
        for n in range(1, rounds + 3))
    agreement_id = seed(runtime, "withdrawal", content, personal=True)
    dataset_id = "urn:dataset:withdrawal"
    tokens = {n: subject_token(http, runtime, subject(n)) for n in range(1, rounds + 2)}
    body = {"recipients": [CONSUMER], "purposes": [PURPOSE], "datasets": [dataset_id]}
    # A household that stays: the transfer keeps running while the others come and go.
    http.post("/api/v1/consents", headers=tokens[rounds + 1], json=body).raise_for_status()
    pid, token = start_pull(http, runtime, agreement_id)
    auth = {"Authorization": f"Bearer {token}"}
    baseline, effect, leaked = [], [], 0
    for n in range(1, rounds + 1):
        given = http.post("/api/v1/consents", headers=tokens[n], json=body)
        given.raise_for_status()
        plain, before = timed(lambda: http.get(f"/data/{pid}", headers=auth))
        if subject(n) not in before.text:
            raise SystemExit("the consenting household's rows were not served")
        baseline.append(plain)
        http.post(f"/api/v1/consents/{given.json()['consent']['id']}/withdraw",
                  headers=tokens[n]).raise_for_status()
        elapsed, after = timed(lambda: http.get(f"/data/{pid}", headers=auth))
        leaked += subject(n) in after.text
        effect.append(elapsed)
    print(f"withdrawal → first pull without the rows: {ms(effect)}")
    print(f"  baseline, a pull in the same round:      {ms(baseline)}")
    print(f"  ratio {statistics.median(effect) / statistics.median(baseline):.2f}; first pulls "
          f"after a withdrawal that still served the rows: {leaked} of {rounds}")
    sole_effect = []
    sole = seed(runtime, "sole", content, personal=True)
    who = tokens[1]
    for _ in range(max(rounds // 3, 3)):
        given = http.post("/api/v1/consents", headers=who, json={**body, "datasets": [
            "urn:dataset:sole"]})
        given.raise_for_status()
        pid, token = start_pull(http, runtime, sole)
        http.post(f"/api/v1/consents/{given.json()['consent']['id']}/withdraw",
                  headers=who).raise_for_status()
        elapsed, refused = timed(partial(pull, http, pid, token))
        if refused.status_code != 403:
            raise SystemExit(f"a pull after the sole consent ended got {refused.status_code}")
        sole_effect.append(elapsed)
    print(f"sole household withdraws → first (refused, 403) pull: {ms(sole_effect)}")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


async def _drain(chunks: AsyncIterator[bytes]) -> int:
    total = 0
    async for data in chunks:
        total += len(data)
    return total


def bench_filter(http: TestClient, runtime: Runtime, rows: int, subjects: int,
                 rounds: int) -> None:
    content = readings(rows, subjects)
    allowed = frozenset(subject(n) for n in range(1, subjects + 1, 3))
    per = 100_000 / rows
    plain, filtered = [], []
    for _ in range(rounds):
        plain.append(timed(lambda: asyncio.run(_drain(_chunks(content))))[0] * per)
        filtered.append(timed(lambda: asyncio.run(_drain(filter_csv(
            _chunks(content), column="subject", allowed=allowed))))[0] * per)
    print(f"row filter in memory, per 100,000 rows: unfiltered {ms(plain)}")
    print(f"                                          filtered   {ms(filtered)}")
    ratio = statistics.median(filtered) / statistics.median(plain)
    print(f"  ratio filtered/unfiltered {ratio:.1f} ({len(allowed)} of {subjects} subjects "
          "consent)")

    personal = seed(runtime, "filtered", content, personal=True)
    open_one = seed(runtime, "unfiltered", content, personal=False)
    with Session(runtime.engine) as session:
        for n in sorted(allowed):
            service.import_record(session, actor=OWNER, controller=OWNER, body={
                "data_subject": n, "recipients": [CONSUMER], "purposes": [PURPOSE],
                "datasets": ["urn:dataset:filtered"]})
    pids = {name: start_pull(http, runtime, agreement)
            for name, agreement in (("filtered", personal), ("unfiltered", open_one))}
    pulls: dict[str, list[float]] = {"filtered": [], "unfiltered": []}
    for _ in range(rounds):
        for name, (pid, token) in pids.items():
            elapsed, resp = timed(partial(pull, http, pid, token))
            resp.raise_for_status()
            pulls[name].append(elapsed * per)
    print(f"pull over the data plane, per 100,000 rows: unfiltered {ms(pulls['unfiltered'])}")
    print(f"                                              filtered   {ms(pulls['filtered'])}")
    ratio = statistics.median(pulls["filtered"]) / statistics.median(pulls["unfiltered"])
    print(f"  ratio filtered/unfiltered {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            TestClient(create_app(settings(Path(tmp)))) as http:
        runtime: Runtime = http.app.state.runtime  # type: ignore[attr-defined]
        bench_withdrawal(http, runtime, args.rounds)
        bench_filter(http, runtime, args.rows, args.subjects, max(args.rounds // 6, 3))


if __name__ == "__main__":
    main()
