"""Shared fixtures: real PostgreSQL and a real OPA sidecar, or a loud skip outside CI.

``scripts/test`` starts both and exports ``CONNECTOR_TEST_DATABASE_URL`` and
``CONNECTOR_TEST_OPA_URL``. Under ``CI=true`` a missing real part fails the test instead of
skipping it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from connector import db

ROOT = Path(__file__).resolve().parent.parent
POLICY_DIR = ROOT / "policies"
IN_CI = os.environ.get("CI", "").lower() == "true"
OPA_BIN = Path(os.environ.get("OPA_BIN", str(Path.home() / ".cache/dodata/bin/opa")))


def missing(part: str, how: str) -> None:
    """Skip loudly outside CI; fail under CI, where no real part may be skipped."""
    message = f"REAL PART MISSING: {part} — {how}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = os.environ.get("CONNECTOR_TEST_DATABASE_URL")
    if not url:
        missing("PostgreSQL", "run scripts/test, or set CONNECTOR_TEST_DATABASE_URL")
    assert url is not None
    return url


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_base_url else "?"
    yield f"{pg_base_url}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` (SQLite and PostgreSQL), migrated to head."""
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _wait_for(url: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def opa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OPA server: the one scripts/test started, or one started here from OPA_BIN."""
    url = os.environ.get("CONNECTOR_TEST_OPA_URL")
    if url:
        if not _wait_for(url):
            missing("OPA", f"CONNECTOR_TEST_OPA_URL={url} does not answer /health")
        yield url
        return
    binary = OPA_BIN if OPA_BIN.exists() else shutil.which("opa")
    if not binary:
        missing("OPA", "run scripts/install-opa (go install …/opa@v1.20.2) or scripts/test")
    port = free_port()
    log = tmp_path_factory.mktemp("opa") / "opa.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [str(binary), "run", "--server", "--addr", f"127.0.0.1:{port}",
             "--set", "decision_logs.console=true"], stdout=handle, stderr=handle)
    url = f"http://127.0.0.1:{port}"
    try:
        if not _wait_for(url):
            missing("OPA", f"{binary} did not start; see {log}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
