"""The audit API over HTTP: public head and key, auditor-only entries, proofs, search, export."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connector.audit.hashing import leaf_hash
from connector.audit.verify import entries_from_export, verify_inclusion_against_note, verify_log
from connector.demo.load import load_demo
from tests.integration.auth_kit import get_token, make_app, register


@pytest.fixture
def http(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    app = make_app(data_dir, database_url, audit_checkpoint_seconds=3600,
                   audit_checkpoint_entries=100000)
    with TestClient(app) as client:
        load_demo(app.state.runtime)
        yield client


def _auditor(http: TestClient) -> dict[str, str]:
    client = register(http.app, ["auditor"], participant="did:web:audit.example")  # type: ignore[arg-type]
    return {"Authorization": "Bearer " + get_token(http, client)["access_token"]}


def test_checkpoint_and_key_are_public_plain_text(http: TestClient) -> None:
    note = http.get("/audit/checkpoint")
    assert note.status_code == 200 and note.headers["content-type"].startswith("text/plain")
    origin, size, _root = note.text.split("\n")[:3]
    assert origin == "dodata.example/audit" and int(size) > 0
    key = http.get("/audit/key").text.strip()
    assert key.startswith("dodata.example/audit+")


@pytest.mark.parametrize("path", ["/audit/entries/0", "/audit/entries",
                                  "/audit/proof/inclusion?index=0&size=1",
                                  "/audit/proof/consistency?first=1&second=2", "/audit/export"])
def test_everything_else_needs_the_auditor_scope(http: TestClient, path: str) -> None:
    assert http.get(path).status_code == 401
    partner = register(http.app, ["partner"])  # type: ignore[arg-type]
    token = get_token(http, partner)["access_token"]
    assert http.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_export_verifies_offline_against_the_signed_checkpoint(http: TestClient) -> None:
    headers = _auditor(http)  # issuing its token is itself an audit entry
    http.app.state.runtime.checkpoints.tick(10**9)  # type: ignore[attr-defined]
    note = http.get("/audit/checkpoint").text
    size = int(note.split("\n")[1])
    export = http.get("/audit/export", headers=headers)
    assert export.status_code == 200 and export.headers["x-audit-size"] == str(size)
    entries = entries_from_export(export.content)
    result = verify_log(entries, note, http.get("/audit/key").text.strip())
    assert result.size == size
    types = {json.loads(e)["type"] for e in entries}
    assert {"key.created", "dataset.created", "offer.created", "participant.created",
            "client.created", "token.issued"} <= types
    assert not any("access_token" in e.decode() or "eyJ" in e.decode() for e in entries)


def test_entry_and_inclusion_proof_check_against_the_note(http: TestClient) -> None:
    headers = _auditor(http)
    http.app.state.runtime.checkpoints.tick(10**9)  # type: ignore[attr-defined]
    note = http.get("/audit/checkpoint").text
    size = int(note.split("\n")[1])
    vkey = http.get("/audit/key").text.strip()
    for index in (0, size // 2, size - 1):
        entry = http.get(f"/audit/entries/{index}", headers=headers)
        assert entry.status_code == 200 and json.loads(entry.content)["index"] == index
        proof = http.get("/audit/proof/inclusion", params={"index": index, "size": size},
                         headers=headers).json()
        assert proof["index"] == index and proof["size"] == size
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        verify_inclusion_against_note(entry.content, index, hashes, note, vkey)
        assert leaf_hash(entry.content)


def test_search_by_type_participant_dataset_and_paging(http: TestClient) -> None:
    headers = _auditor(http)
    page = http.get("/audit/entries", params={"type": "dataset.created", "limit": 5},
                    headers=headers).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    rest = http.get("/audit/entries", params={"type": "dataset.created", "limit": 100,
                                              "cursor": page["next_cursor"]},
                    headers=headers).json()
    assert len(page["items"]) + len(rest["items"]) == 13 and rest["next_cursor"] is None
    meter = http.get("/audit/entries", params={"dataset": "urn:dataset:smart-meter-households"},
                     headers=headers).json()["items"]
    assert {i["entry"]["type"] for i in meter} == {"dataset.created", "offer.created",
                                                   "consent.given", "consent.withdrawn"}
    tokens = http.get("/audit/entries", params={"participant": "did:web:audit.example",
                                                "type": "token.issued"}, headers=headers).json()
    assert len(tokens["items"]) == 1


@pytest.mark.parametrize(("path", "status"), [
    ("/audit/entries/999999", 404), ("/audit/proof/inclusion?index=5&size=3", 400),
    ("/audit/proof/inclusion?index=0&size=99999999", 404),
    ("/audit/proof/consistency?first=5&second=3", 400), ("/audit/entries?cursor=abc", 400),
    ("/audit/entries?limit=0", 422), ("/audit/export?size=99999999", 404),
    # Past a 64-bit index, non-ASCII digits, past int()'s digit limit: no 500 either.
    ("/audit/entries/9223372036854775808", 404),
    ("/audit/entries?cursor=99999999999999999999", 400),
    ("/audit/entries?cursor=%C2%B2", 400), ("/audit/entries?cursor=" + "9" * 5000, 400),
    ("/audit/proof/inclusion?index=0&size=9223372036854775808", 404),
])
def test_bad_requests_are_problems(http: TestClient, path: str, status: int) -> None:
    resp = http.get(path, headers=_auditor(http))
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
