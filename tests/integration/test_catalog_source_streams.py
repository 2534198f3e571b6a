"""Dataset sources for the data plane: SQL on SQLite and PostgreSQL, files, a real HTTP origin."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from connector.catalog import sources
from connector.catalog.errors import SourceUnavailable
from connector.catalog.models import Dataset
from tests.integration.auth_kit import free_port, get_token, make_app, register
from tests.integration.catalog_kit import CITY


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    source = create_engine(database_url)
    with source.begin() as conn:
        conn.execute(text("CREATE TABLE readings (station VARCHAR(40), pm10 INTEGER, "
                          "note VARCHAR(40))"))
        conn.execute(text("INSERT INTO readings VALUES ('lindenhorst', 12, 'ok'), "
                          "('eving', 30, 'comma, \"quoted\"'), ('ruhrallee', 41, NULL), "
                          "('brackel', 18, 'ok'), ('hafen', 22, 'ok')"))
    source.dispose()
    (data_dir / "pm.csv").write_bytes(b"a,b\n" * 50_000)
    app = make_app(data_dir, database_url, audit_checkpoint_seconds=3600,
                   sql_sources={"warehouse": database_url}, sql_row_limit=3)
    with TestClient(app) as client:
        yield client


def _provider(http: TestClient) -> dict[str, str]:
    client = register(http.app, ["provider"], participant=CITY)  # type: ignore[arg-type]
    return {"Authorization": "Bearer " + get_token(http, client)["access_token"]}


def _stream(http: TestClient, dataset_id: str) -> bytes:
    runtime = http.app.state.runtime  # type: ignore[attr-defined]
    with Session(runtime.engine) as session:
        dataset = session.get(Dataset, dataset_id)
    assert dataset is not None
    with sources.open_stream(runtime, dataset) as stream:
        return b"".join(stream)


def test_sql_dataset_is_served_as_csv_with_the_row_limit(http: TestClient) -> None:
    headers = _provider(http)
    created = http.post("/api/v1/datasets", headers=headers, json={
        "id": "readings", "title": "Readings", "media_type": "application/json",
        "source": {"kind": "sql", "database": "warehouse",
                   "query": "SELECT station, pm10, note FROM readings ORDER BY pm10 DESC;"}})
    assert created.status_code == 201, created.text
    assert created.json()["media_type"] == "text/csv"
    assert created.json()["source"]["query"].endswith("DESC")
    assert _stream(http, "readings") == (
        b'station,pm10,note\nruhrallee,41,\neving,30,"comma, ""quoted"""\nhafen,22,ok\n')


@pytest.mark.parametrize("query", [
    "DELETE FROM readings", "SELECT 1; DROP TABLE readings", "UPDATE readings SET pm10 = 0",
    "WITH gone AS (DELETE FROM readings RETURNING *) SELECT * FROM gone",
    "SELECT * INTO copy FROM readings", "SELECT * FROM no_such_table", "SELEKT 1"])
def test_sql_queries_that_are_not_plain_reads_are_refused(http: TestClient,
                                                          query: str) -> None:
    response = http.post("/api/v1/datasets", headers=_provider(http), json={
        "id": "bad", "title": "bad",
        "source": {"kind": "sql", "database": "warehouse", "query": query}})
    assert response.status_code == 422, query
    assert response.json()["errors"][0]["path"] == "source.query"


def test_sql_sessions_are_read_only(database_url: str, http: TestClient) -> None:
    with sources.source_engine(database_url).connect() as conn, \
            pytest.raises(SQLAlchemyError, match=r"read-only|readonly"):
        conn.execute(text("INSERT INTO readings VALUES ('x', 1, 'x')"))


def test_file_stream_and_missing_file(http: TestClient, data_dir: Path) -> None:
    headers = _provider(http)
    http.post("/api/v1/datasets", headers=headers, json={
        "id": "file", "title": "f", "source": {"kind": "file", "path": "pm.csv"}})
    data = _stream(http, "file")
    assert hashlib.sha256(data).digest() == hashlib.sha256(b"a,b\n" * 50_000).digest()
    (data_dir / "pm.csv").unlink()
    with pytest.raises(SourceUnavailable):
        _stream(http, "file")


class _Origin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/data.csv":
            self.send_error(404)
            return
        body = b"x,y\n" * 30_000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_http_stream_relays_the_origin(http: TestClient) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        headers = _provider(http)
        for name, path in (("ok", "/data.csv"), ("gone", "/nothing")):
            http.post("/api/v1/datasets", headers=headers, json={
                "id": name, "title": name, "source": {"kind": "http", "url": base + path}})
        assert _stream(http, "ok") == b"x,y\n" * 30_000
        with pytest.raises(SourceUnavailable, match="HTTP 404"):
            _stream(http, "gone")
    finally:
        server.shutdown()
        server.server_close()
    with Session(http.app.state.runtime.engine) as session:  # type: ignore[attr-defined]
        dataset = session.get(Dataset, "ok")
        assert dataset is not None
        dataset.source = f"http://127.0.0.1:{free_port()}/data.csv"
        session.add(dataset)
        session.commit()
    with pytest.raises(SourceUnavailable, match="did not answer"):
        _stream(http, "ok")
