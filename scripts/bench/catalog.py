"""DSP catalog page latency over 10,000 datasets, next to a bare FastAPI endpoint.

    python scripts/bench/catalog.py [--datasets 10000] [--policies 8] [--n 300]
                                    [--database-url URL] [--opa-url URL]

Fills a fresh connector (SQLite in a temporary data dir unless --database-url; embedded Rego
engine unless --opa-url) with N datasets whose offers use --policies distinct policies, serves
it with uvicorn on a loopback port, and times ``POST /dsp/2025-1/catalog/request`` (50-item
pages: the first, one deep in the catalog, one filtered by keyword) against a bare FastAPI app
on another port returning a precomputed JSON body of the same size. Every catalog request
asks the policy engine once per distinct policy and appends as many audit entries; the row
"policy engine alone" is that share (the decisions, in-process, no HTTP, no database). A
PostgreSQL --database-url gets a fresh schema, dropped at the end, and ANALYZE after the fill
(as autovacuum would have run in a live system; without statistics the planner hash-joins).
Goal: a 50-item page in <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from fastapi import FastAPI, Response
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from connector.app import create_app
from connector.catalog import cursor
from connector.catalog.models import Dataset, Offer
from connector.config import Settings
from connector.decisions import resource_of
from connector.participants.models import Participant
from connector.policy.input import build_input
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime

REQUESTER = "did:web:bench-partner.example"
TOKEN = "Bearer bench"
BODY = {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "CatalogRequestMessage"}
CONSTRAINTS: list[list[dict[str, Any]]] = [
    [], [{"leftOperand": "spatial", "operator": "eq", "rightOperand": "DE-NW"}],
    [{"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": ["DE", "AT"]}],
    [{"leftOperand": "dodata:orgType", "operator": "eq", "rightOperand": "company"}],
    [{"leftOperand": "spatial", "operator": "eq", "rightOperand": "FR"}],
    [{"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["research"]}],
    [{"leftOperand": "dodata:orgType", "operator": "eq", "rightOperand": "research"}],
    [{"leftOperand": "recipient", "operator": "eq", "rightOperand": "did:web:other.example"}],
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill(runtime: Runtime, datasets: int, policies: int) -> None:
    with Session(runtime.engine) as session:
        session.add(Participant(id=REQUESTER, name="Bench partner", role="partner",
                                org_type="company", region="DE-NW"))
        for n in range(datasets):
            dataset_id = f"urn:dataset:bench-{n:05d}"
            session.add(Dataset(id=dataset_id, title=f"Sensor {n}", owner="did:web:city.example",
                                description="Hourly PM10 and PM2.5 from a lamp-post sensor.",
                                keywords=["PM10", f"sensor-{n % 100}"],
                                themes=["http://publications.europa.eu/resource/authority/"
                                        "data-theme/ENVI"], source=f"bench/{n}.csv"))
            rule: dict[str, Any] = {"action": "use"}
            constraints = CONSTRAINTS[n % min(policies, len(CONSTRAINTS))]
            if constraints:
                rule["constraint"] = constraints
            odrl = {"@id": f"urn:offer:bench-{n:05d}", "@type": "Offer", "permission": [rule]}
            session.add(Offer(id=f"urn:offer:bench-{n:05d}", dataset_id=dataset_id, odrl=odrl,
                              normalised=normalise_policy(odrl)))
            if n % 1000 == 999:
                session.flush()
        session.commit()


@contextmanager
def serve(app: FastAPI, port: int) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def measure(calls: dict[str, Callable[[], httpx.Response | None]],
            n: int) -> dict[str, dict[str, float]]:
    """Median and p95 per call, the calls interleaved so that load on the machine hits all."""
    for call in calls.values():
        for _ in range(min(20, n)):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            start = time.perf_counter()
            response = call()
            samples[name].append((time.perf_counter() - start) * 1000)
            assert response is None or response.status_code == 200, response.text[:300]
    out = {}
    for name, values in samples.items():
        values.sort()
        out[name] = {"median_ms": statistics.median(values),
                     "p95_ms": values[int(len(values) * 0.95) - 1]}
    return out


@contextmanager
def database(url: str | None) -> Iterator[str | None]:
    """``url`` as given; a PostgreSQL URL gets a fresh schema, dropped afterwards."""
    if url is None or not url.startswith("postgresql"):
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def engine_floor(runtime: Runtime) -> Callable[[], None]:
    """The policy engine's share of a catalog request: one decision per distinct policy."""
    with Session(runtime.engine) as session:
        offers = session.exec(select(Offer)).all()
        representatives = {o.policy_hash: o for o in offers}
        dataset = session.get(Dataset, offers[0].dataset_id)
    assert dataset is not None
    subject = {"participant": REQUESTER, "roles": ["partner"], "org_type": "company",
               "region": "DE-NW"}
    inputs = [build_input(action="catalog", subject=subject, resource=resource_of(dataset),
                          policy=o.normalised, context={}) for o in representatives.values()]

    def decide_all() -> None:
        for doc in inputs:
            runtime.policy.decide(doc)

    return decide_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--policies", type=int, default=8)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--database-url")
    parser.add_argument("--opa-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.database_url) as url:
        port, bare_port = free_port(), free_port()
        settings = Settings(data_dir=Path(tmp), database_url=url,
                            opa_url=args.opa_url, public_url=f"http://127.0.0.1:{port}",
                            dsp_identity=["fixed"], dsp_fixed_credentials={TOKEN: REQUESTER},
                            log_level="WARNING", audit_checkpoint_seconds=3600)
        runtime = Runtime.start(settings)
        started = time.perf_counter()
        fill(runtime, args.datasets, args.policies)
        if runtime.engine.dialect.name == "postgresql":
            with runtime.engine.begin() as conn:  # what autovacuum does in a running system
                conn.execute(text("ANALYZE"))
        print(f"filled {args.datasets} datasets, {args.policies} policies in "
              f"{time.perf_counter() - started:.1f} s ({runtime.engine.dialect.name}, "
              f"{runtime.policy.name} engine)")
        url = f"http://127.0.0.1:{port}/dsp/2025-1/catalog/request"
        with serve(create_app(runtime=runtime), port), httpx.Client(
                headers={"Authorization": TOKEN}) as client:
            first = client.post(url, json=BODY)
            payload = first.content
            bare = FastAPI()

            @bare.get("/page")
            def page() -> Response:
                return Response(payload, media_type="application/json")

            deep = cursor.encode("after", f"urn:dataset:bench-{args.datasets * 3 // 4:05d}")
            filtered = {**BODY, "filter": [{"dcat:keyword": "sensor-7"}]}
            floor = engine_floor(runtime)
            with serve(bare, bare_port):
                results = measure({
                    "bare FastAPI, same body":
                        lambda: client.get(f"http://127.0.0.1:{bare_port}/page"),
                    "policy engine alone": floor,
                    "catalog, first page": lambda: client.post(url, json=BODY),
                    "catalog, page at 75 %":
                        lambda: client.post(url, params={"cursor": deep}, json=BODY),
                    "catalog, keyword filter": lambda: client.post(url, json=filtered),
                }, args.n)
        runtime.close()
    items = len(json.loads(payload).get("dataset", []))
    print(f"page: {items} datasets, {len(payload)} bytes; n={args.n} per row")
    baseline = results["bare FastAPI, same body"]["median_ms"]
    for name, figures in results.items():
        print(f"{name:28s} median {figures['median_ms']:7.2f} ms   p95 {figures['p95_ms']:7.2f} ms"
              f"   x{figures['median_ms'] / baseline:5.1f} of bare")


if __name__ == "__main__":
    main()
