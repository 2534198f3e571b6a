"""Two writers on one PostgreSQL keep the log dense and consistent; ``audit prove`` over HTTP."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
from typer.testing import CliRunner

from connector import db
from connector.audit import log as audit_log
from connector.audit import storage
from connector.audit.hashing import leaf_hash, root_from_leaves, tree_hash
from connector.cli import app as cli
from tests.integration import negotiation_kit as kit


def test_two_replicas_appending_at_once_on_postgresql(pg_url: str) -> None:
    engines = [db.make_engine(pg_url) for _ in range(2)]
    db.upgrade(engines[0])
    errors: list[BaseException] = []

    def replica(engine: object, name: str) -> None:
        try:
            for i in range(150):
                with engine.begin() as conn:  # type: ignore[attr-defined]
                    audit_log.append(conn, [{"type": "test.event", "replica": name, "n": i}])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(e, f"r{k}")) for k, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engines[0].connect() as conn:
        size = storage.tree_size(conn)
        bodies = list(storage.iter_bodies(conn, size))
        stored_root = tree_hash(size, lambda ix: storage.read_hashes(conn, ix))
    assert size == 300
    assert [json.loads(b)["index"] for b in bodies] == list(range(300))
    assert stored_root == root_from_leaves([leaf_hash(b) for b in bodies])
    for engine in engines:
        engine.dispose()


def test_audit_prove_checks_one_entry_against_the_served_checkpoint(tmp_path: Path) -> None:
    served = kit.serve(tmp_path / "data", f"sqlite:///{tmp_path / 'c.db'}",
                       audit_checkpoint_entries=1)
    try:
        headers = kit.served_headers(served, ["auditor"], "did:web:audit.example")
        token = headers["Authorization"].split(" ", 1)[1]
        vkey = httpx.get(served.base + "/audit/key").text.strip()
        kit.wait_for(lambda: int(httpx.get(served.base + "/audit/checkpoint").text
                                 .split("\n")[1]) >= 3)
        runner = CliRunner()
        ok = runner.invoke(cli, ["audit", "prove", "--url", served.base, "--index", "1",
                                 "--key", vkey, "--token", token])
        assert ok.exit_code == 0, ok.output
        result = json.loads(ok.output)
        assert result["ok"] and result["index"] == 1 and result["key_pinned"]
        other = vkey.rsplit("+", 1)[0] + "+" + "A" * 43 + "="
        bad = runner.invoke(cli, ["audit", "prove", "--url", served.base, "--index", "1",
                                  "--key", other, "--token", token])
        assert bad.exit_code == 1 and json.loads(bad.output)["ok"] is False
        missing = runner.invoke(cli, ["audit", "prove", "--url", served.base, "--index", "1",
                                      "--key", vkey])
        assert missing.exit_code == 1 and "401" in json.loads(missing.output)["error"]
    finally:
        served.stop()
