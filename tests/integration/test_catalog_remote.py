"""Consumer side: one connector requests another's catalog over DSP, both on real ports.

The provider runs on the test's database (SQLite and PostgreSQL), the consumer on its own
SQLite file; both under uvicorn in threads. They recognise each other by fixed credentials.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from connector.app import create_app
from connector.auth import clients
from connector.config import Settings
from connector.participants.models import Participant
from connector.runtime import Runtime
from tests.integration.auth_kit import Key, assertion, free_port
from tests.integration.catalog_kit import add_dataset, offer_odrl, only, schema_errors
from tests.integration.served import listen

CONSUMER = "did:web:consumer.example"


@contextlib.contextmanager
def _serve(settings: Settings, port: int) -> Iterator[Runtime]:
    runtime = Runtime.start(settings)
    uv, thread = listen(create_app(runtime=runtime), port)
    try:
        yield runtime
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        runtime.close()


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[tuple[str, str, Runtime, Runtime]]:
    """(provider DSP URL, consumer base URL, provider runtime, consumer runtime)."""
    p_port, c_port = free_port(), free_port()
    provider_url, consumer_url = f"http://127.0.0.1:{p_port}", f"http://127.0.0.1:{c_port}"
    provider = Settings(data_dir=tmp_path / "provider", database_url=database_url,
                        public_url=provider_url, participant_id="did:web:provider.example",
                        dsp_identity=["fixed"],
                        dsp_fixed_credentials={"Bearer a-token": CONSUMER})
    consumer = Settings(data_dir=tmp_path / "consumer", public_url=consumer_url,
                        participant_id=CONSUMER, dsp_identity=["fixed"],
                        dsp_fixed_outgoing="Bearer a-token")
    with _serve(provider, p_port) as p_rt, _serve(consumer, c_port) as c_rt:
        with Session(p_rt.engine) as session:
            session.add(Participant(id=CONSUMER, name="Consumer", role="partner",
                                    org_type="company", region="DE-NW"))
            session.commit()
        add_dataset(p_rt.engine, "fr-only", offer_odrl("offer-fr", only("spatial", ["FR"])))
        for n in range(60):
            add_dataset(p_rt.engine, f"nw-{n:02d}", offer_odrl(f"o-{n:02d}",
                                                               only("spatial", ["DE-NW"])))
        yield provider_url + "/dsp/2025-1", consumer_url, p_rt, c_rt


def _token(base: str, runtime: Runtime, roles: list[str]) -> dict[str, str]:
    key = Key.es256()
    with Session(runtime.engine) as session:
        record, _ = clients.create_client(session=session, participant=CONSUMER, roles=roles,
                                          jwks=key.jwks(), dpop_bound=False, with_secret=False,
                                          secrets_allowed=False)
    token_url = base + "/oauth/token"
    response = httpx.post(token_url, data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(key, record.client_id, aud=token_url)})
    assert response.status_code == 200, response.text
    return {"Authorization": "Bearer " + response.json()["access_token"]}


def test_consumer_requests_and_pages_the_providers_catalog(
        pair: tuple[str, str, Runtime, Runtime]) -> None:
    provider_dsp, consumer, _, c_rt = pair
    headers = _token(consumer, c_rt, ["partner"])
    first = httpx.post(consumer + "/api/v1/remote/catalog", headers=headers, timeout=20,
                       json={"counterparty_address": provider_dsp})
    assert first.status_code == 200, first.text
    body: dict[str, Any] = first.json()
    catalog = body["catalog"]
    assert schema_errors(catalog, "catalog-schema.json") == []
    assert catalog["participantId"] == "did:web:provider.example"
    assert [d["@id"] for d in catalog["dataset"]] == [f"nw-{n:02d}" for n in range(50)]
    assert body["next_page"].startswith(provider_dsp + "/catalog/request?cursor=")
    second = httpx.post(consumer + "/api/v1/remote/catalog", headers=headers, timeout=20,
                        json={"counterparty_address": provider_dsp,
                              "page_url": body["next_page"]}).json()
    assert [d["@id"] for d in second["catalog"]["dataset"]] == [f"nw-{n:02d}"
                                                                for n in range(50, 60)]
    assert second["next_page"] is None and second["previous_page"] is not None
    filtered = httpx.post(consumer + "/api/v1/remote/catalog", headers=headers, timeout=20,
                          json={"counterparty_address": provider_dsp,
                                "filter": [{"dcat:keyword": "nothing-like-this"}]}).json()
    assert "dataset" not in filtered["catalog"]


async def _deeply_nested(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status = 503 if scope["path"].startswith("/fail") else 200
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=idna")]})
    await send({"type": "http.response.body", "body": b"[" * 100_000 + b"]" * 100_000})


def test_remote_failures_are_502_problems(pair: tuple[str, str, Runtime, Runtime]) -> None:
    provider_dsp, consumer, _, c_rt = pair
    headers = _token(consumer, c_rt, ["partner"])

    def ask(**body: Any) -> httpx.Response:
        return httpx.post(consumer + "/api/v1/remote/catalog", headers=headers, timeout=20,
                          json={"counterparty_address": provider_dsp, **body})

    refused = ask(filter=[{"keyword": "x"}])  # not a DSP term: the provider answers 400
    assert refused.status_code == 502
    problem = refused.json()
    assert problem["counterparty_status"] == 400
    assert "unsupported catalog filter" in problem["counterparty_reason"][0]
    nobody = ask(counterparty_address=f"http://127.0.0.1:{free_port()}/dsp/2025-1")
    assert nobody.status_code == 502 and "did not answer" in nobody.json()["detail"]
    elsewhere = ask(page_url="http://elsewhere.example/dsp/2025-1/catalog/request")
    assert elsewhere.status_code == 422
    for field, bad in [("counterparty_address", "http://xn--/dsp"),
                       ("counterparty_address", "https://" + "a" * 300 + "/dsp"),
                       ("counterparty_address", "http://a..b/dsp"),
                       ("page_url", "http://xn--/dsp/2025-1/catalog/request")]:
        unusable = ask(**{field: bad})
        assert unusable.status_code == 422, (field, bad, unusable.text)
        assert unusable.json()["errors"][0]["path"] == field
    # A counterparty answering JSON nested deeper than the parser goes: 502, not 500.
    port = free_port()
    deep, thread = listen(_deeply_nested, port, lifespan="off")
    try:
        nested = ask(counterparty_address=f"http://127.0.0.1:{port}/dsp/2025-1")
        failing = ask(counterparty_address=f"http://127.0.0.1:{port}/fail/dsp/2025-1")
    finally:
        deep.should_exit = True
        thread.join(timeout=10)
    assert nested.status_code == 502 and "no valid Catalog" in nested.json()["detail"]
    assert failing.status_code == 502 and failing.json()["counterparty_status"] == 503
    provider_only = _token(consumer, c_rt, ["provider"])
    assert httpx.post(consumer + "/api/v1/remote/catalog", headers=provider_only,
                      json={"counterparty_address": provider_dsp}).status_code == 403
