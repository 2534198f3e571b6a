"""Health, readiness, metrics, request ids and the error contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from connector.app import create_app
from connector.config import Settings
from connector.errors import PolicyDenied


class Thing(BaseModel):
    name: str
    size: int


def _test_router() -> APIRouter:
    router = APIRouter()

    @router.post("/_test/things")
    def make(thing: Thing) -> Thing:
        return thing

    @router.get("/_test/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    @router.get("/_test/denied")
    def denied() -> None:
        raise PolicyDenied("no", reasons=[{"code": "purpose_not_allowed", "message": "m"}])

    return router


@pytest.fixture
def app(data_dir: Path, database_url: str) -> FastAPI:
    settings = Settings(data_dir=data_dir, database_url=database_url, max_body_bytes=1000)
    application = create_app(settings)
    application.include_router(_test_router())
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_healthz_and_readyz_name_the_parts(client: TestClient, database_url: str) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database"] == {"kind": database_url.split(":")[0].split("+")[0], "ok": True}
    assert checks["policy_engine"]["kind"] == "embedded"
    assert checks["policy_engine"]["revision"].startswith("sha256:")


def test_request_id_is_returned_and_echoed(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"x-request-id": "abc-123"}).headers[
        "x-request-id"] == "abc-123"
    # An unsafe id (log injection) is replaced, not echoed.
    echoed = client.get("/healthz", headers={"x-request-id": "a\tb"}).headers["x-request-id"]
    assert echoed != "a\tb"


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    resp = client.get("/no/such/route")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["type"] == "urn:dodata:problem:not-found" and body["status"] == 404


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    resp = client.delete("/healthz")
    assert resp.status_code == 405 and resp.json()["type"].endswith("method-not-allowed")


def test_validation_errors_give_field_paths(client: TestClient) -> None:
    resp = client.post("/_test/things", json={"name": "x", "size": "big"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    paths = [e["path"] for e in resp.json()["errors"]]
    assert paths == ["body.size"]


def test_malformed_json_is_a_422_problem(client: TestClient) -> None:
    resp = client.post("/_test/things", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["type"].endswith("validation-failed")


def test_oversized_body_by_length_is_413(client: TestClient) -> None:
    resp = client.post("/_test/things", content=b"x" * 1001,
                       headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["type"] == "urn:dodata:problem:payload-too-large"


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 100

    resp = client.post("/_test/things", content=chunks(),
                       headers={"content-type": "application/json"})
    assert resp.status_code == 413


def test_no_stack_trace_reaches_the_client(client: TestClient) -> None:
    resp = client.get("/_test/boom")
    assert resp.status_code == 500
    body = resp.text
    assert "passwd" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert resp.json()["type"] == "urn:dodata:problem:internal"
    assert resp.json()["request_id"] == resp.headers["x-request-id"]


def test_domain_errors_carry_their_extras(client: TestClient) -> None:
    resp = client.get("/_test/denied")
    assert resp.status_code == 403
    assert resp.json()["reasons"] == [{"code": "purpose_not_allowed", "message": "m"}]


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/nowhere")
    text = client.get("/metrics").text
    assert 'connector_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "connector_http_request_duration_seconds_bucket" in text


def test_policy_decisions_are_counted(app: FastAPI, client: TestClient) -> None:
    runtime = app.state.runtime
    runtime.decide("catalog", {"action": "catalog"})
    text = client.get("/metrics").text
    assert 'connector_policy_decisions_total{action="catalog",engine="embedded"' in text


def test_unreachable_opa_makes_readyz_503_and_denies(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{tmp_path / 'o.db'}",
                        opa_url="http://127.0.0.1:9", opa_timeout=0.5)
    with TestClient(create_app(settings)) as client:
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.headers["content-type"] == "application/problem+json"
        body = resp.json()
        assert "policy_engine (opa)" in body["detail"]
        assert body["checks"]["policy_engine"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        decision = client.app.state.runtime.decide("catalog", {"action": "catalog"})  # type: ignore[attr-defined]
        assert decision.allow is False
        assert decision.reasons[0].code == "policy_engine_unavailable"


def test_unreachable_database_makes_readyz_503(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    with TestClient(create_app(settings)) as client:
        client.app.state.runtime.engine.dispose()  # type: ignore[attr-defined]
        (data_dir / "connector.db").unlink()
        (data_dir / "connector.db").mkdir()  # a directory where the file was: cannot open
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert "database (sqlite)" in resp.json()["detail"]
