"""The admin clients API, and proof that no token, assertion, proof or secret reaches a log."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_kit import (
    BASE,
    TOKEN_URL,
    Key,
    Registered,
    dpop_proof,
    get_token,
    make_app,
    register,
    token_form,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient

from connector.observability import JsonFormatter


@pytest.fixture
def app(data_dir: Path, database_url: str) -> FastAPI:
    return make_app(data_dir, database_url)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin(app: FastAPI, http: TestClient) -> dict[str, str]:
    client = register(app, ["admin"], participant="did:web:dodata.example")
    return {"Authorization": f"Bearer {get_token(http, client)['access_token']}"}


def test_admin_manages_clients(http: TestClient, admin: dict[str, str]) -> None:
    key = Key.ed25519()
    response = http.post("/api/v1/admin/clients", headers=admin, json={
        "participant": "did:web:ewd.example", "roles": ["provider"], "jwks": key.jwks(),
        "dpop_bound": True})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["roles"] == ["provider"] and created["dpop_bound"] is True
    assert created["client_secret"] is None and "secret_hash" not in created
    client_id = created["client_id"]

    listed = http.get("/api/v1/admin/clients", headers=admin).json()
    assert client_id in [c["client_id"] for c in listed]
    one = http.get(f"/api/v1/admin/clients/{client_id}", headers=admin).json()
    assert one["jwks"]["keys"][0]["kid"] == key.kid

    # The new client works (DPoP-bound, so only with a proof) until it is disabled.
    client = Registered(client_id, key)
    body = get_token(http, client, dpop_key=Key.es256())
    assert body["token_type"] == "DPoP"
    disabled = http.post(f"/api/v1/admin/clients/{client_id}/disable", headers=admin).json()
    assert disabled["disabled"] is True
    response = http.post("/oauth/token", data=token_form(client),
                         headers={"DPoP": dpop_proof(Key.es256(), "POST", TOKEN_URL)})
    assert response.json()["error"] == "invalid_client"


def test_admin_api_errors(http: TestClient, admin: dict[str, str]) -> None:
    missing = http.get("/api/v1/admin/clients/ghost", headers=admin)
    assert missing.status_code == 404 and missing.json()["type"].endswith("not-found")
    assert http.post("/api/v1/admin/clients/ghost/disable", headers=admin).status_code == 404
    bad = http.post("/api/v1/admin/clients", headers=admin, json={
        "participant": "did:web:x", "roles": ["partner"],
        "jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "jwks.keys.0"
    unknown_role = http.post("/api/v1/admin/clients", headers=admin, json={
        "participant": "did:web:x", "roles": ["root"], "jwks": Key.es256().jwks()})
    assert unknown_role.status_code == 422
    body = {"participant": "did:web:x", "roles": ["partner"], "jwks": Key.es256().jwks(),
            "client_id": "twice"}
    assert http.post("/api/v1/admin/clients", headers=admin, json=body).status_code == 201
    again = http.post("/api/v1/admin/clients", headers=admin, json=body)
    assert again.status_code == 409


def test_partner_may_not_manage_clients(app: FastAPI, http: TestClient) -> None:
    partner = register(app, ["partner"])
    token = get_token(http, partner)["access_token"]
    response = http.get("/api/v1/admin/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert http.get("/api/v1/admin/clients").status_code == 401


def test_no_secret_reaches_the_log(app: FastAPI, http: TestClient,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("authlib").setLevel(logging.DEBUG)  # even if someone turns it up
    secrets: list[str] = []
    try:
        client = register(app, ["partner", "admin"], secret=True)
        assert client.secret
        secrets.append(client.secret)
        basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
        secrets.append(basic)
        response = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                             headers={"Authorization": f"Basic {basic}"})
        secrets.append(response.json()["access_token"])
        form = token_form(client)
        secrets.append(form["client_assertion"])
        dpop_key = Key.es256()
        proof = dpop_proof(dpop_key, "POST", TOKEN_URL)
        secrets.append(proof)
        bound = http.post("/oauth/token", data=form, headers={"DPoP": proof}).json()
        secrets.append(bound["access_token"])
        use = dpop_proof(dpop_key, "GET", BASE + "/api/v1/me", access_token=bound["access_token"])
        secrets.append(use)
        assert http.get("/api/v1/me", headers={"Authorization": f"DPoP {bound['access_token']}",
                                               "DPoP": use}).status_code == 200
        http.post("/oauth/token", data=form)  # replayed assertion: an error path
        http.get("/api/v1/me", headers={"Authorization": f"Bearer {bound['access_token']}"})
        introspect = token_form(client, token=bound["access_token"])
        secrets.append(introspect["client_assertion"])
        http.post("/oauth/introspect", data=introspect)
        revoke = token_form(client, token=bound["access_token"])
        secrets.append(revoke["client_assertion"])
        http.post("/oauth/revoke", data=revoke)
    finally:
        logging.getLogger("authlib").setLevel(logging.WARNING)
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(record) for record in caplog.records)
    assert "oauth" in text and "client_id" in text  # the events themselves are logged
    for secret in secrets:
        for part in {secret, *secret.split(".")}:
            if len(part) >= 16:
                assert part not in text
