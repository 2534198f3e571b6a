"""The README's first command, as a real process: serve --demo answers and holds the demo data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from connector.cli import app
from tests.conftest import free_port


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "connector exited early"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("connector did not become healthy")


def test_serve_demo_as_a_real_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"  # does not exist yet: serve creates it
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "serve", "--demo", "--port", str(port),
         "--data-dir", str(data_dir)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        ready = httpx.get(url + "/readyz").json()
        assert ready["checks"]["database"]["kind"] == "sqlite"
        assert ready["checks"]["policy_engine"]["kind"] == "embedded"
        resp = httpx.get(url + "/healthz", headers={"x-request-id": "probe-1"})
        assert resp.headers["x-request-id"] == "probe-1"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    with sqlite3.connect(data_dir / "connector.db") as conn:
        assert conn.execute("SELECT count(*) FROM dataset").fetchone()[0] == 13
        assert conn.execute("SELECT count(*) FROM offer").fetchone()[0] == 13
    keys = list((data_dir / "keys").glob("*/*.pem"))
    assert len(keys) == 3 and all(k.stat().st_mode & 0o777 == 0o600 for k in keys)
    lines = (tmp_path / "serve.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert entries, "logs are JSON lines"
    probe = [e for e in entries if e.get("request_id") == "probe-1"]
    assert probe and probe[0]["status"] == 200 and probe[0]["path"] == "/healthz"


def test_cli_db_upgrade_demo_and_keys(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = str(tmp_path / "d")
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", data_dir])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    result = runner.invoke(app, ["demo", "--data-dir", data_dir])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"]["datasets"] == 13
    result = runner.invoke(app, ["keys", "list", "--data-dir", data_dir])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert set(listed) == {"access-token", "audit", "receipt"}
    assert all("d" not in jwk for jwks in listed.values() for jwk in jwks)


def test_cli_refuses_invalid_settings(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)],
                                env={"CONNECTOR_MAX_BODY_BYTES": "-1"})
    assert result.exit_code == 2
