"""``connector clients …`` and ``connector keys rotate`` against the database and key directory
of a service that is running, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from auth_kit import Key, Registered, get_token, make_app, register
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from connector.cli import app as cli


@pytest.fixture
def app(data_dir: Path, database_url: str) -> FastAPI:
    return make_app(data_dir, database_url)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def run(data_dir: Path, database_url: str, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)],
                                env={"CONNECTOR_DATABASE_URL": database_url})
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout) if code == 0 and "--json" in args else result


def test_clients_create_list_disable_while_the_service_runs(
        http: TestClient, data_dir: Path, database_url: str, tmp_path: Path) -> None:
    key = Key.es256()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.jwk]}))
    created = run(data_dir, database_url, "clients", "create", "--participant",
                  "did:web:stadtwerke.example", "--role", "provider", "--role", "partner",
                  "--jwks", str(jwks_file), "--json")
    assert created["client_id"].startswith("c-")
    assert created["roles"] == ["partner", "provider"] and created["dpop_bound"] is False
    assert created["auth_methods"] == ["private_key_jwt"]
    assert created["jwks"]["keys"][0]["kid"] == key.kid

    client = Registered(created["client_id"], key)
    token = get_token(http, client)["access_token"]
    me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["participant"] == "did:web:stadtwerke.example"

    listed = run(data_dir, database_url, "clients", "list", "--json")
    assert [c["client_id"] for c in listed] == [client.client_id]
    text = run(data_dir, database_url, "clients", "list").stdout
    assert client.client_id in text and "enabled" in text

    disabled = run(data_dir, database_url, "clients", "disable", client.client_id, "--json")
    assert disabled["disabled"] is True and disabled["disabled_at"]
    refused = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert http.post("/oauth/token", data={"grant_type": "client_credentials"}).status_code >= 400


def test_clients_create_dpop_and_secret(http: TestClient, data_dir: Path, database_url: str,
                                        tmp_path: Path) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [Key.ed25519().jwk]}))
    created = run(data_dir, database_url, "clients", "create", "--participant", "did:web:a",
                  "--role", "auditor", "--jwks", str(jwks_file), "--dpop", "--client-id",
                  "auditor-1", "--json")
    assert created["client_id"] == "auditor-1" and created["dpop_bound"] is True
    secret = run(data_dir, database_url, "clients", "create", "--participant", "did:web:b",
                 "--role", "admin", "--secret", "--json")
    assert len(secret["client_secret"]) >= 40
    assert secret["auth_methods"] == ["client_secret_basic"]


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "wizard"], "unknown role 'wizard'"),
    (["--role", "partner"], "a client needs public keys"),
    (["--role", "partner", "--jwks", "/nonexistent.json"], "cannot read JWKS"),
])
def test_clients_create_errors(data_dir: Path, database_url: str, args: list[str],
                               message: str) -> None:
    result = run(data_dir, database_url, "clients", "create", "--participant", "did:web:x",
                 *args, code=1)
    assert message in result.stderr


def test_clients_disable_unknown(data_dir: Path, database_url: str) -> None:
    result = run(data_dir, database_url, "clients", "disable", "ghost", code=1)
    assert "no client ghost" in result.stderr


def test_private_jwk_in_the_file_is_refused(data_dir: Path, database_url: str,
                                            tmp_path: Path) -> None:
    key = Key.ed25519()
    private = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.private))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [private]}))
    result = run(data_dir, database_url, "clients", "create", "--participant", "did:web:x",
                 "--role", "partner", "--jwks", str(jwks_file), code=1)
    assert "private key members are refused" in result.stderr


def test_keys_rotate_keeps_old_tokens_valid(app: FastAPI, http: TestClient, data_dir: Path,
                                           database_url: str) -> None:
    client = register(app, ["partner"])
    old = get_token(http, client)["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    rotated = json.loads(run(data_dir, database_url, "keys", "rotate").stdout)
    assert rotated["previous_kid"] == old_kid and rotated["kid"] != old_kid
    assert rotated["previous_published_for_seconds"] == 630
    new = get_token(http, client)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == rotated["kid"]
    kids = [k["kid"] for k in http.get("/oauth/jwks").json()["keys"]]
    assert kids[0] == rotated["kid"] and old_kid in kids
    for token in (old, new):
        assert http.get("/api/v1/me",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert run(data_dir, database_url, "keys", "rotate", "--purpose", "nope", code=2)
